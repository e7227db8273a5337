"""Shared helpers for the project's own tests: a tiny Spider directory built from scratch."""

from __future__ import annotations

from pathlib import Path

import pytest
from synthetic_spider import make_spider_dir

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def spider_dir(tmp_path: Path) -> Path:
    return make_spider_dir(tmp_path / "spider")
