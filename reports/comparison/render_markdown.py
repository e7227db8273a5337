"""A short Markdown summary of the comparison report, for CI logs, step summaries and READMEs.

GitHub renders inline HTML in Markdown, so model output is HTML-escaped and Markdown's own
metacharacters are backslash-escaped; newlines are folded so a cell stays one table cell.
"""

from __future__ import annotations

import html
import re
from typing import Any

from metrics.spider_variants import VARIANTS
from reports.comparison import curves, forgetting
from reports.comparison.build import (
    AVERAGES,
    DIAGNOSTIC_HEADERS,
    METHODS,
    SEMANTICS,
    Change,
    Report,
    fmt_ci,
    fmt_p,
    fmt_pct,
    fmt_points,
    metadata_rows,
    shots_label,
    spider_diagnostics,
    spider_measured,
    table_iii,
)
from reports.comparison.error_analysis import CATEGORIES
from reports.comparison.other_suites import other_suites
from reports.comparison.plots import CATEGORY_LABELS

TOP_SUBJECTS = 5
MAX_CELL = 160
# Cells never start a line, so only inline metacharacters matter ("<" and "&" are HTML-escaped).
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def md(value: Any, limit: int = MAX_CELL) -> str:
    """Text safe in a Markdown table cell: no HTML, no formatting, no cell breaks."""
    text = " ".join(("" if value is None else str(value)).split())
    if len(text) > limit:
        text = text[:limit] + "…"
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=True))


def _table(headers: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(md(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(c if isinstance(c, _Raw) else md(c) for c in row) + " |" for row in rows]
    return out + [""]


class _Raw(str):
    """A cell we formatted ourselves (numbers only), kept as is."""


def _est(e: Any) -> _Raw:
    return _Raw("n/a" if e is None or e.value is None else f"{fmt_pct(e.value)} {fmt_ci(e.ci)}")


def _change(ch: Change) -> list[Any]:
    p = ch.paired
    sig = p is not None and p.significant
    points = fmt_points(ch.points)
    interval = f" {fmt_ci(p.diff_ci, signed=True)}" if p is not None and p.diff_ci is not None else ""
    return [
        _Raw((f"**{points}**" if sig and ch.points is not None else points) + interval),
        _Raw("n/a" if ch.relative is None else f"{ch.relative:+.2f}%"),
        _Raw(
            (fmt_p(p.p_value) if p.p_adjusted is None else f"{fmt_p(p.p_value)} (Holm {fmt_p(p.p_adjusted)})")
            if p
            else "-"
        ),
        _Raw(str(p.counts.n) if p else "-"),
    ]


def _formulations(report: Report) -> list[str]:
    """Formulations present in any model, the report's headline one first."""
    found = list(dict.fromkeys(f for m in report.models for f in m.mmlu))
    head = [report.formulation] if report.formulation in found else []
    return head + sorted(f for f in found if f not in head)


def _table_iii(report: Report, formulations: list[str]) -> list[str]:
    """The reference study's Table III layout: per category, every fine-tuned model vs its control."""
    lines: list[str] = []
    for f in formulations:
        rows = [
            [
                CATEGORY_LABELS.get(g, g),
                shots_label(c.new),
                shots_label(c.base),
                _Raw(fmt_pct(ch.base)),
                _Raw(fmt_pct(ch.new)),
                *_change(ch),
            ]
            for g, c, ch in table_iii(report, f)
        ]
        if not rows:
            continue
        lines += [f"## MMLU by category, all models ({f}; the reference study's Table III layout)", ""]
        lines += _table(
            [
                "category",
                "model",
                "control",
                "control %",
                "model %",
                "change (points) [95% CI]",
                "relative",
                "McNemar p",
                "paired n",
            ],
            rows,
        )
    return lines


def render(report: Report) -> str:
    lines = ["# Text-to-SQL fine-tuning trade-off: Spider vs. MMLU", ""]
    lines += [
        "Every change is computed on the questions both models scored. "
        + METHODS.replace("a change is bold", "a change is **bold**"),
        "",
    ]
    # Every formulation gets its own tables: letter (lm-eval's mmlu) first, then cloze; the
    # embedded small model is at chance on letters, so forgetting shows only in cloze.
    formulations = _formulations(report)
    spider_models = [m for m in report.models if m.spider]
    if spider_models:
        lines += ["## Spider execution accuracy", ""]
        measured = sorted(set(spider_measured(spider_models).values()))
        lines += [f"Measured: {md(w, 400)}." for w in measured] + ([""] if measured else [])
        lines += _table(
            ["model", "scored", *SEMANTICS.values()],
            [
                [shots_label(m), m.spider["overall"]["official"].n, *[_est(m.spider["overall"][s]) for s in SEMANTICS]]
                for m in spider_models
            ],
        )
        lines += [f"- **{SEMANTICS[v]}**: {VARIANTS[v]}." for v in SEMANTICS] + [""]
        lines += _table(
            ["model", *DIAGNOSTIC_HEADERS], [[shots_label(m), *spider_diagnostics(m.run)] for m in spider_models]
        )
    for f in formulations:
        mmlu_models = [m for m in report.models if f in m.mmlu]
        groups = list(dict.fromkeys(g for m in mmlu_models for g in m.mmlu[f]))
        lines += [f"## MMLU accuracy ({f}, micro)", ""]
        lines += _table(
            ["model", "questions", *[CATEGORY_LABELS.get(g, g) for g in groups]],
            [
                [m.label, m.mmlu[f]["overall"]["micro"].n, *[_est(m.mmlu[f].get(g, {}).get("micro")) for g in groups]]
                for m in mmlu_models
            ],
        )
    for comp in report.comparisons:
        lines += [f"## {md(shots_label(comp.new))} vs {md(shots_label(comp.base))}", ""]
        rows = []
        if "overall" in comp.spider:
            for sem, ch in comp.spider["overall"].items():
                rows.append([f"Spider {SEMANTICS[sem]}", _Raw(fmt_pct(ch.base)), _Raw(fmt_pct(ch.new)), *_change(ch)])
        for f in formulations:
            for group, avgs in comp.mmlu.get(f, {}).items():
                for avg, ch in avgs.items():
                    rows.append(
                        [
                            f"MMLU {f} {CATEGORY_LABELS.get(group, group)} {AVERAGES[avg]}",
                            _Raw(fmt_pct(ch.base)),
                            _Raw(fmt_pct(ch.new)),
                            *_change(ch),
                        ]
                    )
        lines += _table(
            ["metric", "base %", "new %", "change (points) [95% CI]", "relative", "McNemar p", "paired n"], rows
        )
        for f in formulations:
            subjects = comp.subjects.get(f, [])
            if subjects:
                shown = subjects[:TOP_SUBJECTS] + [
                    s for s in subjects[-TOP_SUBJECTS:] if s not in subjects[:TOP_SUBJECTS]
                ]
                lines += [f"MMLU subjects with the largest drops and gains ({f}):", ""]
                lines += _table(
                    ["subject", "base %", "new %", "change (points) [95% CI]", "relative", "McNemar p", "paired n"],
                    [[s, _Raw(fmt_pct(ch.base)), _Raw(fmt_pct(ch.new)), *_change(ch)] for s, ch in shown],
                )
        if comp.spider:
            lines += [f"Spider questions fixed by fine-tuning: {len(comp.fixed)}; broken: {len(comp.broken)}.", ""]
        lines += [f"> note: {md(n, 400)}" for n in comp.notes] + ([""] if comp.notes else [])
    lines += _table_iii(report, formulations)
    for label in report.unpaired:
        lines += [f"{md(label)}: no base-model results with the same base weights to compare against.", ""]
    if spider_models:
        present = [c for c in CATEGORIES if any(m.errors.counts.get(c) for m in spider_models)]
        if present:
            lines += [
                "## Spider failures by category",
                "",
                "A failed case can fall in several structural categories, so a column can add up to more than "
                "its failed count; structural categories are counted only for queries that executed.",
                "",
            ]
            lines += _table(
                ["category", *[m.label for m in spider_models]],
                [[CATEGORIES[c], *[m.errors.counts.get(c, 0) for m in spider_models]] for c in present]
                + [["failed cases", *[m.errors.failed for m in spider_models]]],
            )
    points = curves.curve_points(report)
    if points:
        front = curves.pareto_front(points)
        lines += ["## Trade-off curves", "", curves.headline(points, report), ""]
        lines += _table(
            [
                "experiment",
                "point",
                "kind",
                "t",
                points[0].learning_axis.removeprefix("learning: "),
                "Spider EX Δ (points)",
                "forgetting Δ (nats) [95% CI]",
                "Pareto",
            ],
            [
                [
                    p.experiment,
                    p.label,
                    p.kind,
                    f"{p.t:g}",
                    f"{p.learning:+.4g}",
                    "n/a" if p.ex_points is None else f"{p.ex_points:+.2f}",
                    f"{p.forgetting:+.4f} [{p.forgetting_ci[0]:+.4f}, {p.forgetting_ci[1]:+.4f}]",
                    "yes" if p.label in front else "",
                ]
                for p in points
            ],
        ) + [""]
    if any(c.forgetting for c in report.comparisons):
        lines += ["## Continuous signals (paired): forgetting and learning", "", forgetting.EXPLAINED, ""]
        for c in report.comparisons:
            if c.forgetting:
                lines += [f"### {md(c.new.label)} vs {md(c.base.label)}", ""]
                lines += _table(forgetting.HEADERS, forgetting.rows(c.forgetting)) + [""]
    for name, blocks in other_suites(report):
        lines += [f"## Suite: {name}", ""]
        for _, block in blocks:
            lines += ["```", *block, "```", ""]
    if report.models:
        lines += ["## Runs", ""]
        keys = ("model", "adapter sha256", "Spider", "Spider cases", "MMLU", "MMLU cases", "duration")
        meta = [dict(metadata_rows(m.run)) for m in report.models]
        lines += _table(["", *[m.label for m in report.models]], [[k, *[d.get(k, "-") for d in meta]] for k in keys])
    return "\n".join(lines).rstrip() + "\n"
