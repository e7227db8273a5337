"""MMLU's results block and terminal lines: per formulation, micro and macro accuracy overall,
by category and by subject, with counts and 95% intervals."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tradeoff.records import CaseRecord, rate


def summarize_mmlu(records: Iterable[CaseRecord]) -> dict[str, Any]:
    """Per formulation: subject, category and overall accuracy, micro and macro, with counts and CIs."""
    from tradeoff.suites.mmlu.aggregate import summarize

    records = [r for r in records if r.suite == "mmlu"]
    out: dict[str, Any] = {}
    for formulation in sorted({r.props.get("formulation", "letter") for r in records}):
        mine = [r for r in records if r.props.get("formulation", "letter") == formulation]
        scored = [r for r in mine if r.outcome in ("passed", "failed")]
        summary = summarize((r.props.get("subject", r.case_id.split("-")[0]), r.outcome == "passed") for r in scored)
        overall = rate(scored)
        out[formulation] = {
            # micro = correct / questions; macro = mean of per-subject accuracies.
            "overall": {
                **overall,
                "micro": summary.overall.micro,
                "macro": summary.overall.macro,
                "subjects": summary.overall.subjects,
            },
            "by_category": {
                name: {"micro": g.micro, "macro": g.macro, "questions": g.questions, "subjects": g.subjects}
                for name, g in summary.per_category.items()
            },
            "by_subject": {
                s: {"correct": a.correct, "total": a.total, "accuracy": a.value} for s, a in summary.per_subject.items()
            },
            "errors": sum(r.outcome == "error" for r in mine),
            "skipped": sum(r.outcome == "skipped" for r in mine),
        }
    return out


def format_mmlu_summary(label: str, summary: dict[str, Any], split: str, shots: int) -> list[str]:
    lines = []
    for formulation, s in summary.items():
        o = s["overall"]
        if not o["scored"]:
            continue
        lo, hi = o["ci95"]
        lines.append(
            f"MMLU ({formulation}, {shots}-shot, {split}) — model {label}: micro {100 * o['micro']:.2f}% "
            f"(95% CI {100 * lo:.1f}–{100 * hi:.1f}) over {o['scored']} questions; "
            f"macro {100 * o['macro']:.2f}% over {o['subjects']} subjects"
        )
        for name, g in s["by_category"].items():
            lines.append(
                f"  {name:<16} micro {100 * g['micro']:6.2f}%  macro {100 * g['macro']:6.2f}%  ({g['questions']} q, {g['subjects']} subjects)"
            )
    return lines
