"""Where things live: data, caches, outputs. Environment variables override defaults."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

ENV_SPIDER_DIR = "SPIDER_DIR"
ENV_MMLU_DIR = "MMLU_DIR"
ENV_CACHE_DIR = "TRADEOFF_CACHE_DIR"
ENV_OUTPUT_DIR = "TRADEOFF_OUTPUT_DIR"
ENV_MODELS_DIR = "TRADEOFF_MODELS_DIR"
ENV_EXPERIMENTS = "TRADEOFF_EXPERIMENTS"
ENV_BASE_MODEL = "TRADEOFF_BASE_MODEL"
ENV_CONVERTED_DIR = "TRADEOFF_CONVERTED_DIR"
ENV_THREADS = "TRADEOFF_THREADS"
# Which computing process of a `tradeoff sweep --workers N` this is (0..N-1): picks its device.
ENV_SWEEP_WORKER = "TRADEOFF_SWEEP_WORKER"
ENV_SHIPPED_ADAPTERS = "TRADEOFF_SHIPPED_ADAPTERS"


def _path(env: str, default: Path) -> Path:
    value = os.environ.get(env)
    return Path(value).expanduser() if value else default


def default_spider_dir() -> Path:
    return _path(ENV_SPIDER_DIR, REPO_ROOT.parent / "shared" / "data" / "spider")


def default_mmlu_dir() -> Path:
    return _path(ENV_MMLU_DIR, REPO_ROOT.parent / "shared" / "data" / "mmlu")


def cache_dir() -> Path:
    """Prediction cache, converted models, locks. Safe to delete."""
    return _path(ENV_CACHE_DIR, REPO_ROOT / ".cache")


def output_dir() -> Path:
    """Results JSON and HTML reports."""
    return _path(ENV_OUTPUT_DIR, REPO_ROOT / "out")


def models_dir() -> Path:
    """Trained adapters, per base model and experiment."""
    return _path(ENV_MODELS_DIR, REPO_ROOT / "models")


def deepeval_native() -> bool:
    """Whether deepeval's CLI runs this session (`deepeval test run` sets DEEPEVAL=1): Spider
    cases then also go through deepeval's test API, for its results table, folder and cache."""
    return os.environ.get("DEEPEVAL", "").strip().lower() in ("1", "true", "yes")


def shipped_adapters_dir() -> Path:
    """Adapters committed with the repository (trained by `make ship-adapters`), used when no
    locally trained one exists ($TRADEOFF_SHIPPED_ADAPTERS moves them, e.g. to an empty folder)."""
    return _path(ENV_SHIPPED_ADAPTERS, REPO_ROOT / "adapters")


def experiments_file() -> Path:
    return _path(ENV_EXPERIMENTS, REPO_ROOT / "experiments.toml")


def converted_models_dir() -> Path:
    """Dequantized GGUF checkpoints; shared across caches since conversion is slow."""
    return _path(ENV_CONVERTED_DIR, cache_dir() / "converted")
