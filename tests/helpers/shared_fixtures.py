"""Fixtures shared by the unit and integration tests: a tiny Spider directory built from scratch."""

from __future__ import annotations

from pathlib import Path

import pytest

from synthetic_spider import make_spider_dir


@pytest.fixture
def spider_dir(tmp_path: Path) -> Path:
    return make_spider_dir(tmp_path / "spider")
