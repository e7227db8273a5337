"""The comparison report's generic section for suites without a dedicated one (all but Spider and
MMLU, the trade-off's two axes): each model's own summary lines of that suite."""

from __future__ import annotations

from typing import Any

from reports.comparison.build import Report
from tradeoff.suites import registry

DEDICATED = ("spider", "mmlu")  # suites with sections of their own in render_html / render_markdown


def other_suites(report: Report) -> list[tuple[str, list[tuple[str, list[str]]]]]:
    """[(suite name, [(model label, summary lines)])] for every other suite some model ran."""
    out = []
    for name in registry.REGISTERED:
        if name in DEDICATED:
            continue
        suite = registry.get(name)
        blocks = [
            (m.label, _lines(suite, m.label, m.run.data["suites"][name], m.run.data.get("settings") or {}))
            for m in report.models
            if name in (m.run.data.get("suites") or {})
        ]
        if blocks:
            out.append((name, blocks))
    return out


def _lines(suite: Any, label: str, summary: Any, settings: dict[str, Any]) -> list[str]:
    """The suite's own lines; a summary it cannot read (another version's) is said, not raised."""
    try:
        return list(suite.summary_lines(label, summary, settings))
    except (KeyError, TypeError, ValueError) as exc:
        return [f"{name_of(suite)} summary of {label} unreadable ({type(exc).__name__}: {exc})"]


def name_of(suite: Any) -> str:
    return str(getattr(suite, "name", "suite"))
