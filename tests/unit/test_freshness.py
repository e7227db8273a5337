"""`tradeoff check-results`: a committed results file is current only while the model, the prompt,
the code version and the keyed packages that computed it are the ones a run would use now."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tradeoff.cli import main as cli
from tradeoff.config.experiments import load_registry, resolve_model
from tradeoff.errors import UserError
from tradeoff.freshness import stale_reasons
from tradeoff.inference.provenance import CODE_VERSION, package_versions
from tradeoff.models.identity import model_identity


@pytest.fixture
def world(tmp_path, monkeypatch):
    """A registry whose base is a local weights file and whose v1 has a trained adapter."""
    weights = tmp_path / "weights.gguf"
    weights.write_bytes(b"base weights")
    experiments = tmp_path / "experiments.toml"
    experiments.write_text(
        f'[defaults]\nbase_model = "m"\n[base_models.m]\nsource = "{weights}"\n'
        "[experiments.base-0shot]\ntrain = false\nspider_shots = 0\n"
        "[experiments.v1]\nlearning_rate = 2e-4\n"
    )
    monkeypatch.setenv("TRADEOFF_EXPERIMENTS", str(experiments))
    monkeypatch.setenv("TRADEOFF_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("TRADEOFF_SHIPPED_ADAPTERS", str(tmp_path / "shipped"))
    adapter = tmp_path / "models" / "m" / "v1" / "adapter"
    adapter.mkdir(parents=True)
    (adapter / "adapter_config.json").write_text("{}")
    (adapter / "adapter_model.safetensors").write_bytes(b"trained")
    return tmp_path


def results_of(name: str, **process: Any) -> dict[str, Any]:
    """What a run of `name` would write now (the parts freshness reads)."""
    choice = resolve_model(name, load_registry())
    made = {"code": CODE_VERSION, "dtype": "float32", "versions": package_versions(), **process}
    return {
        "model": name,
        "identity": model_identity(choice),
        "settings": {"spider_shots": choice.spider_shots},
        "generated_by": [{"id": "a", "cases": {"spider": 3}, "process": made}],
    }


def test_a_file_written_by_todays_run_is_current(world):
    for name in ("v1", "base-0shot"):
        assert stale_reasons(results_of(name), resolve_model(name, load_registry())) == []


def test_each_thing_a_result_depends_on_makes_it_stale_when_it_changes(world):
    results = results_of("v1")
    (world / "models" / "m" / "v1" / "adapter" / "adapter_model.safetensors").write_bytes(b"retrained")
    choice = resolve_model("v1", load_registry())
    assert [r.split(" (")[0] for r in stale_reasons(results, choice)] == ["adapter changed"]

    fresh = results_of("v1")
    assert stale_reasons(fresh, choice) == []
    old_code = results_of("v1", code=CODE_VERSION - 1)
    assert stale_reasons(old_code, choice) == [
        f"computed by code version {CODE_VERSION - 1}, the code is now {CODE_VERSION}"
    ]
    torch = results_of("v1", versions={**package_versions(), "torch": "0.0.1"})
    assert stale_reasons(torch, choice) == [f"torch 0.0.1 computed it, {package_versions()['torch']} is installed"]
    half = results_of("v1", dtype="bfloat16")
    assert stale_reasons(half, choice) == ["computed in bfloat16, the model is now run in float32"]
    shots = {**fresh, "settings": {"spider_shots": 4}}
    assert stale_reasons(shots, choice) == ["Spider prompt had 4 shots, the model now has 0"]
    unknown = {**fresh, "generated_by": []}
    assert stale_reasons(unknown, choice) == ["no record of the code that computed it"]
    (world / "weights.gguf").write_bytes(b"other base weights")
    assert [r.split(" (")[0] for r in stale_reasons(fresh, resolve_model("v1", load_registry()))] == [
        "base weights changed"
    ]


def test_the_command_exits_0_current_1_stale_or_missing_2_unreadable(world, capsys):
    path = world / "v1.json"
    path.write_text(json.dumps(results_of("v1")))
    assert cli(["check-results", str(path), "--model", "v1"]) == 0
    assert capsys.readouterr().out.startswith("v1: current")
    path.write_text(json.dumps(results_of("v1", code=CODE_VERSION - 1)))
    assert cli(["check-results", str(path), "--model", "v1"]) == 1
    assert "v1: stale: computed by code version" in capsys.readouterr().out
    assert cli(["check-results", str(world / "absent.json"), "--model", "v1"]) == 1
    assert "v1: missing" in capsys.readouterr().out
    path.write_text("{not json")
    assert cli(["check-results", str(path), "--model", "v1"]) == 2
    assert capsys.readouterr().err.startswith("error: ") and path.read_text() == "{not json"
    path.write_text(json.dumps(results_of("base-0shot")))
    assert cli(["check-results", str(path), "--model", "v1"]) == 2
    assert "holds model 'base-0shot', not 'v1'" in capsys.readouterr().err


def test_a_file_that_is_not_results_is_a_user_error(world):
    from tradeoff.freshness import read_results

    path = world / "list.json"
    path.write_text("[]")
    with pytest.raises(UserError, match="not a results JSON"):
        read_results(Path(path))
