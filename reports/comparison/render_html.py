"""The comparison report as one self-contained HTML page (inline CSS, images as data URIs).

Everything that is not markup we wrote goes through `esc`: model output is hostile text, and a
prediction like `<script>...` must show as text, never run.
"""

from __future__ import annotations

import html
import time
from collections.abc import Iterable
from typing import Any

from metrics.spider_variants import VARIANTS
from reports.comparison import curves, forgetting
from reports.comparison.build import (
    AVERAGES,
    DIAGNOSTIC_HEADERS,
    HARDNESS,
    METHODS,
    SEMANTICS,
    Change,
    Estimate,
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
from reports.comparison.error_analysis import CATEGORIES, Flip
from reports.comparison.other_suites import other_suites
from reports.comparison.plots import CATEGORY_LABELS, data_uri

MAX_TEXT = 400
MAX_FLIPS = 25

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1200px;padding:0 1rem;color:#1d1d1f;background:#fff}
h1{font-size:1.6rem}h2{margin-top:2.2rem;border-bottom:2px solid #e5e5ea;padding-bottom:.2rem}h3{margin-top:1.4rem}
table{border-collapse:collapse;margin:.6rem 0 1rem;font-size:.88rem}
th,td{border:1px solid #d2d2d7;padding:.25rem .5rem;text-align:right;vertical-align:top}
th{background:#f2f2f7}td.l,th.l{text-align:left}
td.code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.8rem;text-align:left;white-space:pre-wrap;word-break:break-word;max-width:28rem}
.ci{color:#6e6e73;font-size:.78rem}.pos{color:#1a7f37}.neg{color:#c62828}.sig{font-weight:700}
.note{background:#fff8e1;border-left:4px solid #f9a825;padding:.4rem .8rem;margin:.4rem 0}
figure{margin:1rem 0}figcaption{color:#6e6e73;font-size:.85rem;max-width:48rem}
img{max-width:100%;height:auto;border:1px solid #e5e5ea}
details{margin:.4rem 0}summary{cursor:pointer;font-weight:600}
.headline li{margin:.3rem 0}
"""


class Markup(str):
    """HTML we built ourselves; everything else is escaped."""


def esc(value: Any) -> Markup:
    if isinstance(value, Markup):
        return value
    text = "" if value is None else str(value)
    return Markup(html.escape(text, quote=True))


def clip(value: Any, limit: int = MAX_TEXT) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= limit else text[:limit] + "…"


def tag(name: str, *children: Any, **attrs: Any) -> Markup:
    attr = "".join(f' {k.rstrip("_").replace("_", "-")}="{esc(v)}"' for k, v in attrs.items() if v is not None)
    return Markup(f"<{name}{attr}>" + "".join(esc(c) for c in children) + f"</{name}>")


def join(parts: Iterable[Any]) -> Markup:
    return Markup("".join(esc(p) for p in parts))


def table(headers: list[Any], rows: list[list[Any]], left: int = 1) -> Markup:
    """A table whose first `left` columns are text (left-aligned), the rest numbers."""
    head = tag("tr", *[tag("th", h, class_="l" if i < left else None) for i, h in enumerate(headers)])
    body = [
        tag(
            "tr",
            *[
                c if isinstance(c, Markup) and c.startswith("<td") else tag("td", c, class_="l" if i < left else None)
                for i, c in enumerate(row)
            ],
        )
        for row in rows
    ]
    return tag("table", tag("thead", head), tag("tbody", *body))


def code_cell(text: Any) -> Markup:
    return tag("td", clip(text), class_="code")


def estimate(e: Estimate | None) -> Markup:
    if e is None or e.value is None:
        return esc("n/a")
    return join([fmt_pct(e.value), " ", tag("span", fmt_ci(e.ci), class_="ci")])


def signed(points: float | None, bold: bool = False) -> Markup:
    if points is None:
        return esc("n/a")
    cls = "pos" if points > 0 else "neg" if points < 0 else None
    if bold:
        cls = f"{cls or ''} sig".strip()
    return tag("span", fmt_points(points), class_=cls)


def change_cells(change: Change) -> list[Any]:
    """base, new, change (points), relative (%), paired n, b/c, p, CI of the paired difference."""
    p = change.paired
    rel = change.relative
    cells: list[Any] = [
        fmt_pct(change.base),
        fmt_pct(change.new),
        signed(change.points, bool(p and p.significant)),
        "n/a" if rel is None else f"{rel:+.2f}%",
    ]
    if p is None:
        return cells + ["-", "-", "-", "-"]
    shown_p = fmt_p(p.p_value) if p.p_adjusted is None else f"{fmt_p(p.p_value)} (Holm {fmt_p(p.p_adjusted)})"
    return cells + [
        p.counts.n,
        f"{p.counts.only_base} / {p.counts.only_new}",
        shown_p,
        tag("span", fmt_ci(p.diff_ci, signed=True), class_="ci"),
    ]


CHANGE_HEADERS = [
    "base % (paired)",
    "new % (paired)",
    "change (points)",
    "relative change",
    "paired n",
    "base-only / new-only right",
    "McNemar p",
    "95% CI of change (Newcombe)",
]


def _headline(report: Report) -> Markup:
    items = []
    for comp in report.comparisons:
        parts = [tag("b", shots_label(comp.new)), f" vs {shots_label(comp.base)}: "]
        sp = comp.spider.get("overall", {}).get("official")
        if sp and sp.points is not None:
            parts += [
                "Spider EX (official) ",
                signed(sp.points, bool(sp.paired and sp.paired.significant)),
                " points",
                f" (p {fmt_p(sp.paired.p_value)})" if sp.paired else "",
            ]
        mm = comp.mmlu.get(report.formulation or "", {}).get("overall", {}).get("micro")
        if mm and mm.points is not None:
            parts += [
                "; MMLU micro ",
                signed(mm.points, bool(mm.paired and mm.paired.significant)),
                " points",
                f" (p {fmt_p(mm.paired.p_value)}, {report.formulation})" if mm.paired else "",
            ]
        items.append(tag("li", *parts))
    for label in report.unpaired:
        items.append(
            tag("li", tag("b", label), ": no base-model results with the same base weights to compare against.")
        )
    if not items:
        items.append(
            tag("li", "Only base-model results so far: run a fine-tuned model (e.g. --model v1) to see the trade-off.")
        )
    return join(
        [
            tag("ul", *items, class_="headline"),
            tag("p", "Every change is computed on the questions both models scored. " + METHODS),
        ]
    )


def _spider_section(report: Report) -> Markup:
    models = [m for m in report.models if m.spider]
    if not models:
        return Markup("")
    rows_present = [h for h in HARDNESS if any(h in m.spider for m in models)]
    headers = ["model", "scored", *[SEMANTICS[s] for s in SEMANTICS], *[f"{h} (official)" for h in rows_present]]
    rows = []
    for m in models:
        row: list[Any] = [shots_label(m), m.spider["overall"]["official"].n]
        row += [estimate(m.spider["overall"][s]) for s in SEMANTICS]
        for h in rows_present:
            e = m.spider.get(h, {}).get("official")
            row.append(join([estimate(e), tag("span", f" n={e.n}", class_="ci")]) if e else "-")
        rows.append(row)
    diag_rows = [[shots_label(m), *spider_diagnostics(m.run)] for m in models]
    parts = [
        tag("h2", "Spider execution accuracy (Table II)"),
        tag("p", _spider_measured(models) + " Percent of scored questions, with 95% Wilson score intervals."),
        tag("ul", *[tag("li", tag("b", SEMANTICS[v]), f": {VARIANTS[v]}.") for v in SEMANTICS]),
        table(headers, rows),
        tag(
            "p",
            "Beside the verdicts, over the scored questions: answers that went on after their first statement "
            "(scored on the first), answers cut at max_new_tokens, and vacuous matches (both results empty).",
        ),
        table(["model", *DIAGNOSTIC_HEADERS], diag_rows),
    ]
    for comp in report.comparisons:
        if not comp.spider:
            continue
        rows = [
            [f"{row} · {SEMANTICS[sem]}", *change_cells(ch)]
            for row, sems in comp.spider.items()
            for sem, ch in sems.items()
        ]
        parts += [
            tag("h3", f"{shots_label(comp.new)} vs {shots_label(comp.base)}"),
            table(["questions", *CHANGE_HEADERS], rows),
        ]
    return join(parts)


def _table_iii(report: Report, formulations: list[str]) -> Markup:
    """The reference study's Table III layout: per MMLU category, the base row and each fine-tuned
    model's accuracy with its change (points and relative, on common questions) and Holm-adjusted p."""
    if not report.comparisons:
        return Markup("")
    parts: list[Any] = [
        tag("h2", "MMLU by category, all models (the reference study's Table III layout)"),
        tag("p", "Per category: each fine-tuned model against its control, on the questions both scored."),
    ]
    for f in formulations:
        by_group: dict[str, list[list[Any]]] = {}
        for g, c, ch in table_iii(report, f):
            p = ch.paired
            by_group.setdefault(g, []).append(
                [
                    shots_label(c.new),
                    f"vs {shots_label(c.base)}",
                    fmt_pct(ch.base),
                    fmt_pct(ch.new),
                    signed(ch.points, bool(p and p.significant)),
                    "n/a" if ch.relative is None else f"{ch.relative:+.2f}%",
                    "-" if p is None else (fmt_p(p.p_value) if p.p_adjusted is None else fmt_p(p.p_adjusted)),
                    "-" if p is None else p.counts.n,
                ]
            )
        for g, rows in by_group.items():
            parts += [
                tag("h3", f"{CATEGORY_LABELS.get(g, g)} ({f})"),
                table(
                    [
                        "model",
                        "control",
                        "control %",
                        "model %",
                        "change (points)",
                        "relative change",
                        "p (Holm within categories; overall unadjusted)",
                        "paired n",
                    ],
                    rows,
                    left=2,
                ),
            ]
    return join(parts)


def _spider_measured(models: list[Any]) -> str:
    """What the headline is, from the runs' own summaries (per model where they differ)."""
    worded = spider_measured(models)
    if not worded:
        return ""
    if len(set(worded.values())) == 1:
        return f"Measured: {next(iter(worded.values()))}."
    return "Measured: " + "; ".join(f"{k}: {w}" for k, w in worded.items()) + "."


def _mmlu_section(report: Report) -> Markup:
    parts: list[Any] = []
    formulations = list(dict.fromkeys(f for m in report.models for f in m.mmlu))
    if not formulations:
        return Markup("")
    parts += [
        tag("h2", "MMLU accuracy (Table III)"),
        tag(
            "p",
            "Micro = correct / questions (lm-eval's group numbers); macro = mean of per-subject accuracies. "
            "Relative change is computed from the two aggregated accuracies, never as a mean of per-subject ratios.",
        ),
    ]
    for f in formulations:
        models = [m for m in report.models if f in m.mmlu]
        groups = list(dict.fromkeys(g for m in models for g in m.mmlu[f]))
        headers = [
            "model",
            "questions",
            *[
                f"{CATEGORY_LABELS.get(g, g) if g != 'overall' else 'overall'} {avg}"
                for g in groups
                for avg in AVERAGES
            ],
        ]
        rows = [
            [
                m.label,
                m.mmlu[f]["overall"]["micro"].n,
                *[estimate(m.mmlu[f].get(g, {}).get(avg)) for g in groups for avg in AVERAGES],
            ]
            for m in models
        ]
        parts += [tag("h3", f"formulation: {f}"), table(headers, rows)]
        for comp in report.comparisons:
            if f not in comp.mmlu:
                continue
            rows = [
                [f"{CATEGORY_LABELS.get(g, g)} · {AVERAGES[avg]}", *change_cells(ch)]
                for g, avgs in comp.mmlu[f].items()
                for avg, ch in avgs.items()
            ]
            parts += [
                tag("h3", f"{comp.new.label} vs {comp.base.label} ({f})"),
                table(["group", *CHANGE_HEADERS], rows),
            ]
    parts.append(_table_iii(report, formulations))
    parts.append(tag("h2", "MMLU per subject, sorted by change (Table IV)"))
    parts.append(
        tag(
            "p",
            "Exploratory: one test per subject, Holm-adjusted within each comparison; with few questions "
            "per subject no change can reach significance (see the notes above).",
        )
    )
    for comp in report.comparisons:
        for f, subjects in comp.subjects.items():
            rows = [[s, *change_cells(ch)] for s, ch in subjects]
            parts.append(
                tag(
                    "details",
                    tag(
                        "summary",
                        f"{comp.new.label} vs {comp.base.label} ({f}): {len(subjects)} subjects, largest drop first",
                    ),
                    table(["subject", *CHANGE_HEADERS], rows),
                    open="open" if len(subjects) <= 20 else None,
                )
            )
    return join(parts)


def _flip_table(flips: list[Flip], base: str, new: str) -> Markup:
    rows = [
        [
            f.case_id,
            f.question and clip(f.question, 200),
            code_cell(f.gold),
            code_cell(f.base_prediction),
            code_cell(f.new_prediction),
            ", ".join(CATEGORIES.get(c, c) for c in f.categories),
        ]
        for f in flips[:MAX_FLIPS]
    ]
    more = tag("p", f"… and {len(flips) - MAX_FLIPS} more.") if len(flips) > MAX_FLIPS else ""
    return join(
        [
            table(
                ["case", "question", "gold", f"{base} prediction", f"{new} prediction", "why the wrong one is wrong"],
                rows,
                left=6,
            ),
            more,
        ]
    )


def _errors_section(report: Report) -> Markup:
    models = [m for m in report.models if m.spider]
    if not models:
        return Markup("")
    present = [c for c in CATEGORIES if any(m.errors.counts.get(c) for m in models)]
    rows = [
        [
            CATEGORIES[c],
            *[
                join(
                    [
                        str(m.errors.counts.get(c, 0)),
                        " ",
                        tag(
                            "span",
                            f"({100 * m.errors.counts.get(c, 0) / m.errors.failed:.0f}%)" if m.errors.failed else "",
                            class_="ci",
                        ),
                    ]
                )
                for m in models
            ],
        ]
        for c in present
    ]
    rows.append(["failed cases", *[str(m.errors.failed) for m in models]])
    parts: list[Any] = [
        tag("h2", "Spider error analysis"),
        tag(
            "p",
            "Every failed case is classified from the sqlglot trees of predicted and gold SQL (a case can be in "
            "several categories, so columns add up to more than the failed count).",
        ),
        table(["category", *[m.label for m in models]], rows),
    ]
    for m in models:
        blocks = []
        for c in present:
            examples = m.errors.examples.get(c, [])
            if not examples:
                continue
            rows = [
                [
                    e["case_id"],
                    clip(e.get("question"), 200),
                    code_cell(e.get("gold")),
                    code_cell(e.get("prediction")),
                    clip(e.get("reason"), 200),
                ]
                for e in examples
            ]
            blocks += [
                tag("h4", f"{CATEGORIES[c]} ({m.errors.counts[c]})"),
                table(["case", "question", "gold", "prediction", "reason"], rows, left=5),
            ]
        if blocks:
            parts.append(tag("details", tag("summary", f"examples: {m.label}"), *blocks))
    for comp in report.comparisons:
        if not comp.spider:
            continue
        parts += [
            tag("h3", f"Fixed by fine-tuning: {comp.base.label} wrong, {comp.new.label} right ({len(comp.fixed)})"),
            _flip_table(comp.fixed, comp.base.label, comp.new.label),
            tag("h3", f"Broken by fine-tuning: {comp.base.label} right, {comp.new.label} wrong ({len(comp.broken)})"),
            _flip_table(comp.broken, comp.base.label, comp.new.label),
        ]
    return join(parts)


def _training_section(report: Report, figures: dict[str, tuple[str, bytes]]) -> Markup:
    if not report.training:
        return Markup("")
    parts: list[Any] = [tag("h2", "Training runs")]
    rows = []
    for run in report.training:
        rec = run.record
        raw = rec.get("training")
        training: dict[str, Any] = raw if isinstance(raw, dict) else {}
        loss = [value for _, value in run.loss]
        rows.append(
            [
                run.label,
                rec.get("experiment", "-"),
                str(rec.get("adapter_sha256") or "-")[:12],
                training.get("global_step", "-"),
                f"{loss[0]:.4f}" if loss else "-",
                f"{loss[-1]:.4f}" if loss else "-",
                training_data_line(rec),
                rec.get("finished_at", "-"),
            ]
        )
    parts.append(
        table(
            ["run", "experiment", "adapter sha256", "steps", "first loss", "last loss", "examples", "finished"],
            rows,
            left=3,
        )
    )
    for run in report.training:
        fig = figures.get(f"loss-{run.label}")
        if fig:
            parts.append(_figure(*fig))
    return join(parts)


def training_data_line(record: dict[str, Any]) -> str:
    """Used / selected examples and those dropped as too long (with their databases, if known)."""
    raw = record.get("data")
    data: dict[str, Any] = raw if isinstance(raw, dict) else {}
    if "used" not in data:
        return "-"
    text = f"{data['used']} used of {data.get('selected', '?')} selected"
    dropped = data.get("dropped_longer_than_max_seq_length") or 0
    config = record.get("config")
    training = config.get("training") if isinstance(config, dict) else None
    max_len = training.get("max_seq_length") if isinstance(training, dict) else None
    text += f"; {dropped} dropped as longer than {max_len or 'max_seq_length'} tokens"
    by_db = data.get("dropped_longer_by_database")
    if dropped and isinstance(by_db, dict) and by_db:
        text += (
            f" (from {len(by_db)} database{'s' if len(by_db) != 1 else ''}: "
            + ", ".join(f"{k} {v}" for k, v in by_db.items())
            + ")"
        )
    return text


def _figure(caption: str, png: bytes) -> Markup:
    return tag("figure", Markup(f'<img src="{data_uri(png)}" alt="{esc(caption)}">'), tag("figcaption", caption))


def _metadata_section(report: Report) -> Markup:
    per_model = [dict(metadata_rows(m.run)) for m in report.models]
    if not per_model:
        return Markup("")
    fields = list(per_model[0])
    rows = [[f, *[d.get(f, "-") for d in per_model]] for f in fields]
    return join(
        [tag("h2", "Run metadata"), table(["", *[m.label for m in report.models]], rows, left=len(report.models) + 1)]
    )


def _curves_section(report: Report, figs: dict[str, tuple[str, bytes]]) -> Markup:
    points = curves.curve_points(report)
    if not points:
        return Markup("")
    front = curves.pareto_front(points)
    rows = [
        [
            p.experiment,
            p.label,
            p.kind,
            f"{p.t:g}",
            f"{p.learning:+.4g} " + (f"[{p.learning_ci[0]:+.4g}, {p.learning_ci[1]:+.4g}]" if p.learning_ci else ""),
            fmt_p(p.learning_p),
            "n/a" if p.ex_points is None else f"{p.ex_points:+.2f}",
            f"{p.forgetting:+.4f} [{p.forgetting_ci[0]:+.4f}, {p.forgetting_ci[1]:+.4f}]",
            fmt_p(p.forgetting_p),
            "yes" if p.label in front else "",
        ]
        for p in points
    ]
    headers = [
        "experiment",
        "point",
        "kind",
        "t",
        f"{points[0].learning_axis.removeprefix('learning: ')} [95% CI]",
        "p",
        "Spider EX Δ (points)",
        "forgetting Δ (nats) [95% CI]",
        "p (Holm)",
        "Pareto",
    ]
    parts: list[Any] = [tag("h2", "Trade-off curves"), tag("p", curves.headline(points, report))]
    parts += [_figure(*figs[k]) for k in ("tradeoff-curves", "tradeoff-curves-categories") if k in figs]
    parts.append(table(headers, rows, left=3))
    return join(parts)


def _forgetting_section(report: Report) -> Markup:
    parts: list[Any] = []
    for c in report.comparisons:
        if not c.forgetting:
            continue
        parts.append(tag("h3", f"{c.new.label} vs {c.base.label}"))
        parts.append(table(forgetting.HEADERS, forgetting.rows(c.forgetting)))
        for s in c.forgetting:
            if len(s.by_category) > 1:
                parts.append(tag("p", f"{s.label}, by category:"))
                parts.append(table(forgetting.CATEGORY_HEADERS, forgetting.category_rows(s)))
    if not parts:
        return Markup("")
    return join(
        [tag("h2", "Continuous signals (paired): forgetting and learning"), tag("p", forgetting.EXPLAINED), *parts]
    )


def _other_suites_section(report: Report) -> Markup:
    parts: list[Any] = []
    for name, blocks in other_suites(report):
        parts.append(tag("h2", f"Suite: {name}"))
        parts += [tag("pre", "\n".join(lines)) for _, lines in blocks]
    return join(parts)


def render(report: Report, figures: list[tuple[str, str, bytes]]) -> str:
    """The whole page as a string."""
    figs = {fid: (caption, png) for fid, caption, png in figures}
    notes = [
        tag("div", f"{c.new.label} vs {c.base.label}: {n}", class_="note") for c in report.comparisons for n in c.notes
    ]
    generated = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(report.generated_at))
    top_figures = [_figure(*figs[k]) for k in ("tradeoff", "mmlu-categories") if k in figs]
    body = join(
        [
            tag("h1", "Text-to-SQL fine-tuning trade-off: Spider vs. MMLU"),
            tag(
                "p",
                f"Generated {generated} from {len(report.models)} results file(s). {METHODS} Macro-average "
                f"bootstrap: {report.resamples} resamples, seed {report.seed}.",
            ),
            tag("h2", "Headline"),
            _headline(report),
            *notes,
            *top_figures,
            _spider_section(report),
            _mmlu_section(report),
            _curves_section(report, figs),
            _forgetting_section(report),
            _other_suites_section(report),
            _errors_section(report),
            _training_section(report, figs),
            _metadata_section(report),
        ]
    )
    return (
        "<!DOCTYPE html>\n" + '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>SQL fine-tuning trade-off report</title><style>{CSS}</style></head>"
        f"<body>{body}</body></html>\n"
    )
