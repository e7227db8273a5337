"""One run's summary, as the terminal and the pytest-html page show it: each suite's own lines
(Suite.summary_lines), in registry order, then the model's identity."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tradeoff.suites import registry

# This run's (results, results JSON path), set by the collector (fixtures/results.py) when the session finishes.
RESULTS = pytest.StashKey[tuple[dict[str, Any], Path]]()


def run_results(config: pytest.Config) -> dict[str, Any] | None:
    """This run's results once the session finished, else None."""
    return config.stash[RESULTS][0] if RESULTS in config.stash else None


def summary_lines(results: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for name in registry.REGISTERED:
        if name in results["suites"]:
            suite = registry.get(name)
            lines += suite.summary_lines(results["model"], results["suites"][name], results.get("settings") or {})
    return lines
