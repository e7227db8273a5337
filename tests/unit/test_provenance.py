"""What a cached value depends on is in its key; who computed it is recorded and reported."""

from __future__ import annotations

import os

from fixtures.results import generated_by
from tradeoff.inference.cache import PredictionCache
from tradeoff.inference.provenance import environment, environment_key, process_record, record_id
from tradeoff.models import identity as modeling
from tradeoff.records import CaseRecord


def test_every_part_of_the_environment_changes_the_key():
    base = environment("cpu", "float32", 8)
    key = environment_key("weights", base)
    variants = [
        dict(base, dtype="bfloat16"),
        dict(base, batch_size=4),
        dict(base, device_type="cuda"),
        dict(base, code=base["code"] + 1),
        dict(base, versions={**base["versions"], "torch": "0.0"}),
        dict(base, versions={**base["versions"], "transformers": "0.0"}),
    ]
    keys = {key} | {environment_key("weights", v) for v in variants} | {environment_key("other weights", base)}
    assert len(keys) == len(variants) + 2
    assert environment_key("weights", environment("cpu", "float32", 8)) == key  # and it is stable


def test_a_checkpoint_retrained_into_the_same_folder_gets_a_new_identity(tmp_path, monkeypatch):
    monkeypatch.setenv("TRADEOFF_CACHE_DIR", str(tmp_path / "cache"))
    folder = tmp_path / "ckpt"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    weights = folder / "model.safetensors"
    weights.write_bytes(b"\x01" * (2 << 20))
    first = modeling._checkpoint_fingerprint(folder)
    weights.write_bytes(b"\x02" * (2 << 20))  # same size, same names: new content
    os.utime(weights, ns=(1, 1))
    assert modeling._checkpoint_fingerprint(folder) != first
    # a large file's hash is kept per file version, so another process does not rehash it
    assert str(weights.resolve()) in (tmp_path / "cache" / modeling.HASH_STORE).read_text()


def test_results_report_the_generating_process_not_the_reader(tmp_path, monkeypatch):
    monkeypatch.setenv("TRADEOFF_CACHE_DIR", str(tmp_path))
    writer = process_record("cuda:1", "bfloat16", 16)  # e.g. a GPU box that precomputed
    cache = PredictionCache(tmp_path / "predictions.sqlite")
    cache.put_many("m", [("k1", "db-0001", {"text": "SELECT 1", "stopped": True})], writer)
    ids = cache.provenance_ids(["k1"])
    cache.close()
    assert ids == {"k1": record_id(writer)}
    records = [
        CaseRecord("spider", "db-0001", "passed", {"generated_by": ids["k1"]}),
        CaseRecord("spider", "db-0002", "failed", {"generated_by": None}),
    ]
    made = {e["id"]: e for e in generated_by(records)}
    assert made[ids["k1"]]["process"] == writer and made[ids["k1"]]["cases"] == {"spider": 1}
    assert made[ids["k1"]]["process"]["device"] == "cuda:1" and made[ids["k1"]]["process"]["batch_size"] == 16
    assert {"commit", "dirty"} <= set(writer["git"]) and {"torch", "transformers", "peft"} <= set(writer["versions"])
    assert made[None]["process"] is None  # a row from before provenance is said to be unrecorded


def test_an_environment_file_declares_where_a_cache_was_computed(tmp_path):
    import pytest

    from tradeoff.errors import UserError
    from tradeoff.inference.provenance import read_environment, write_environment

    gpu = dict(
        environment("cuda:0", "bfloat16", 32),
        versions={"torch": "2.11.0+cu130", "transformers": "5.17.0", "peft": "0.21.2"},
    )
    path = write_environment(tmp_path, gpu)
    assert read_environment(path) == gpu
    assert environment_key("w", read_environment(path)) != environment_key("w", environment("cpu", "float32", 32))
    (tmp_path / "bad.json").write_text('{"dtype": "float32"}')
    with pytest.raises(UserError, match="not an environment file"):
        read_environment(tmp_path / "bad.json")
    with pytest.raises(UserError, match="cannot read"):
        read_environment(tmp_path / "missing.json")
