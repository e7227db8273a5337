"""The project's fast, in-process tests (`pytest tests/unit`): no subprocess, no real model run.

The shared helpers (tiny models, the synthetic Spider directory, the hostile-SQL corpus, result
fixtures) live in tests/helpers/, importable by name from every test module here.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "helpers"))

from shared_fixtures import spider_dir  # noqa: E402, F401 - a fixture, registered by import


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.unit)
