"""Spider's results block and terminal lines: pass rates overall, by hardness and by database,
each with its 95% interval, every EX variant beside the headline, skips and failure causes."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

from metrics.hardness import REPORT_LEVELS
from metrics.spider_variants import VARIANT_PROPS
from tradeoff.records import CaseRecord, proportion, rate, scored

HARDNESS_ORDER = REPORT_LEVELS


def spider_rate(records: list[CaseRecord]) -> dict[str, Any]:
    """The official pass rate, plus every variant's on the same scored cases (metrics/spider_variants.py)."""
    out = rate(records)
    done = scored(records)
    passed, n = out["passed"], out["scored"]
    if any("set_match" in r.props for r in done):
        out["variants"] = {"official": proportion(passed, n)}
        for variant, prop in VARIANT_PROPS.items():
            if any(prop in r.props for r in done):
                out["variants"][variant] = proportion(sum(bool(r.props.get(prop)) for r in done), n)
        out["set_match_passed"] = out["variants"]["set"]["passed"]
        out["set_match_rate"] = out["variants"]["set"]["rate"]
        out["vacuous_matches"] = sum(bool(r.props.get("vacuous")) and r.outcome == "passed" for r in done)
        out["more_statements"] = sum(bool(r.props.get("more_statements")) for r in done)
        out["truncated"] = sum(bool(r.props.get("truncated")) for r in done)
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

    overall = spider_rate(records)
    databases = max((int(r.props.get("databases") or 1) for r in records), default=1)
    return {
        "collected": len(records),
        "measured": measured(databases, overall["scored"], len(records)),
        "headline_variant": HEADLINE,
        "variant_definitions": dict(VARIANTS),
        "databases_per_question": databases,
        "overall": overall,
        "by_hardness": {h: spider_rate(by_hardness[h]) for h in HARDNESS_ORDER if h in by_hardness},
        "by_database": {db: spider_rate(rs) for db, rs in sorted(by_db.items())},
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
