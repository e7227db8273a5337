"""Pass rates from per-case records: overall, by hardness, by database, with 95% intervals."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from metrics.hardness import REPORT_LEVELS
from metrics.spider_variants import VARIANT_PROPS
from tradeoff.statistics import wilson_interval

__all__ = ["CaseRecord", "wilson_interval", "rate", "summarize_spider", "summarize_mmlu"]

HARDNESS_ORDER = REPORT_LEVELS


@dataclass
class CaseRecord:
    suite: str
    case_id: str
    outcome: str  # passed | failed | skipped | error
    props: dict[str, Any] = field(default_factory=dict)
    skip_reason: str | None = None
    duration_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _proportion(passed: int, n: int) -> dict[str, Any]:
    lo, hi = wilson_interval(passed, n)
    return {"passed": passed, "rate": passed / n if n else None, "ci95": [lo, hi] if n else None}


def rate(records: list[CaseRecord]) -> dict[str, Any]:
    scored = [r for r in records if r.outcome in ("passed", "failed")]
    passed = sum(r.outcome == "passed" for r in scored)
    n = len(scored)
    lo, hi = wilson_interval(passed, n)
    out: dict[str, Any] = {
        "scored": n,
        "passed": passed,
        "pass_rate": passed / n if n else None,
        "ci95": [lo, hi] if n else None,
    }
    if any("set_match" in r.props for r in scored):
        # Spider: every variant's verdict on the same scored cases (metrics/spider_variants.py).
        out["variants"] = {"official": _proportion(passed, n)}
        for variant, prop in VARIANT_PROPS.items():
            if any(prop in r.props for r in scored):
                out["variants"][variant] = _proportion(sum(bool(r.props.get(prop)) for r in scored), n)
        out["set_match_passed"] = out["variants"]["set"]["passed"]
        out["set_match_rate"] = out["variants"]["set"]["rate"]
        out["vacuous_matches"] = sum(bool(r.props.get("vacuous")) and r.outcome == "passed" for r in scored)
        out["more_statements"] = sum(bool(r.props.get("more_statements")) for r in scored)
        out["truncated"] = sum(bool(r.props.get("truncated")) for r in scored)
    return out


def summarize_spider(records: Iterable[CaseRecord]) -> dict[str, Any]:
    records = [r for r in records if r.suite == "spider"]
    by_hardness: dict[str, list[CaseRecord]] = defaultdict(list)
    by_db: dict[str, list[CaseRecord]] = defaultdict(list)
    for r in records:
        by_hardness[r.props.get("hardness", "unknown")].append(r)
        by_db[r.props.get("db_id", r.case_id.rsplit("-", 1)[0])].append(r)
    skipped = [r for r in records if r.outcome == "skipped"]
    from metrics.spider_variants import HEADLINE, VARIANTS, measured

    overall = rate(records)
    databases = max((int(r.props.get("databases") or 1) for r in records), default=1)
    return {
        "collected": len(records),
        "measured": measured(databases, overall["scored"], len(records)),
        "headline_variant": HEADLINE,
        "variant_definitions": dict(VARIANTS),
        "databases_per_question": databases,
        "overall": overall,
        "by_hardness": {h: rate(by_hardness[h]) for h in HARDNESS_ORDER if h in by_hardness},
        "by_database": {db: rate(rs) for db, rs in sorted(by_db.items())},
        "skipped": {
            "count": len(skipped),
            "reasons": dict(Counter(r.skip_reason or "" for r in skipped).most_common()),
        },
        "errors": sum(r.outcome == "error" for r in records),
        "failures": dict(
            Counter(r.props.get("failure") or "unknown" for r in records if r.outcome == "failed").most_common()
        ),
    }


def format_spider_summary(label: str, summary: dict[str, Any]) -> list[str]:
    """Terminal lines: the numbers a reader wants first."""
    from metrics.spider_variants import VARIANT_LABELS, VARIANTS

    o = summary["overall"]
    lines = [f"Spider execution accuracy — model {label}"]
    if "measured" in summary:
        lines.append(f"  measured: {summary['measured']}")
    if o["scored"]:
        for variant, v in (
            o.get("variants") or {"official": {"passed": o["passed"], "rate": o["pass_rate"], "ci95": o["ci95"]}}
        ).items():
            lo, hi = v["ci95"]
            lines.append(
                f"  {VARIANT_LABELS.get(variant, variant) + ':':<27} {v['passed']}/{o['scored']} = {100 * v['rate']:.2f}% "
                f"(95% CI {100 * lo:.1f}–{100 * hi:.1f})" + ("  <- headline" if variant == "official" else "")
            )
        if "vacuous_matches" in o:
            lines.append(
                f"  vacuous matches (both empty) {o['vacuous_matches']}; answers with more than one statement "
                f"(first scored) {o.get('more_statements', 0)}; cut at max_new_tokens {o.get('truncated', 0)}"
            )
    else:
        lines.append("  overall: no case scored")
    for h, r in summary["by_hardness"].items():
        if r["scored"]:
            lines.append(f"  {h:<7} {r['passed']:>4}/{r['scored']:<4} = {100 * r['pass_rate']:6.2f}%")
    sk = summary["skipped"]
    if sk["count"]:
        lines.append(
            f"  skipped: {sk['count']} (" + "; ".join(f"{n} × {why}" for why, n in sk["reasons"].items()) + ")"
        )
    if summary["errors"]:
        lines.append(f"  errors (not scored): {summary['errors']}")
    if summary["failures"]:
        lines.append("  failures (official): " + ", ".join(f"{k} {v}" for k, v in summary["failures"].items()))
    if o["scored"] and o.get("variants"):
        for variant in o["variants"]:
            lines.append(f"  {variant}: {VARIANTS[variant]}")
    return lines


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
