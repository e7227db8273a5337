"""pytest-html integration: the suite summary at the top, each case's answer in its row."""

from __future__ import annotations

import html
from typing import Any

import pytest

from reports.run.summary import run_results, summary_lines

ROW_FIELDS = (
    ("hardness", "Hardness"),
    ("prediction", "Prediction"),
    ("gold", "Gold"),
    ("reason", "Reason"),
    ("failure", "Error category"),
    ("verdicts", "EX official / strict / set"),
    ("rows", "First rows: gold | predicted"),
)
MAX_CELL = 400


def pytest_html_results_summary(
    prefix: list[str], summary: list[str], postfix: list[str], session: pytest.Session
) -> None:
    results = run_results(session.config)
    if not results or not results["suites"]:
        return
    lines = summary_lines(results)
    identity = results.get("identity", {})
    lines.append(f"  base: {identity.get('base')}  adapter sha256: {identity.get('adapter_sha256', '-')}")
    prefix.append("<pre class='benchmark-summary'>" + html.escape("\n".join(lines)) + "</pre>")


def pytest_html_results_table_header(cells: list[str]) -> None:
    cells[2:2] = [f"<th>{title}</th>" for _, title in ROW_FIELDS]


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    if len(text) > MAX_CELL:
        text = text[:MAX_CELL] + "…"
    return f"<td>{html.escape(text)}</td>"


def _verdicts(props: dict[str, Any]) -> str | None:
    """A Spider case's three verdicts and its diagnostics, e.g. "1 / 0 / 1; cut at max_new_tokens"."""
    if "strict_match" not in props:
        return None
    marks = " / ".join(str(int(bool(props.get(k)))) for k in ("passed", "strict_match", "set_match"))
    notes = [
        text
        for key, text in (
            ("more_statements", "more than one statement (first scored)"),
            ("truncated", "cut at max_new_tokens"),
        )
        if props.get(key)
    ]
    return "; ".join([marks, *notes])


def _rows(props: dict[str, Any]) -> str | None:
    """A Spider case's first gold and predicted result rows, side by side."""
    if "gold_rows_head" not in props:
        return None

    def show(rows: Any) -> str:
        return "(no result)" if rows is None else "; ".join("(" + ", ".join(r) + ")" for r in rows) or "(empty)"

    return f"{show(props['gold_rows_head'])} | {show(props.get('predicted_rows_head'))}"


def pytest_html_results_table_row(report: pytest.TestReport, cells: list[str]) -> None:
    props = dict(getattr(report, "user_properties", ()))  # a CollectReport has none
    props["verdicts"] = _verdicts(props)
    props["rows"] = _rows(props)
    cells[2:2] = [_cell(props.get(key)) for key, _ in ROW_FIELDS]
