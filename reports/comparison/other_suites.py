"""The comparison report's generic section for suites without a dedicated one (all but Spider and
MMLU, the trade-off's two axes): each model's own summary lines of that suite."""

from __future__ import annotations

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
            (m.label, suite.summary_lines(m.label, m.run.data["suites"][name], m.run.data.get("settings") or {}))
            for m in report.models
            if name in (m.run.data.get("suites") or {})
        ]
        if blocks:
            out.append((name, blocks))
    return out
