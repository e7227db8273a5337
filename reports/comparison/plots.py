"""The report's figures as PNG bytes (matplotlib's Agg backend: no display, works in CI)."""

from __future__ import annotations

import base64
import io
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from reports.comparison.build import Report
    from reports.comparison.loading import TrainingRun

CATEGORY_LABELS = {"stem": "STEM", "humanities": "Humanities", "social_sciences": "Social Sciences", "other": "Other"}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def to_png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    _pyplot().close(fig)
    return buf.getvalue()


def data_uri(png: bytes) -> str:
    """Embeds an image in the page itself, so the report is one file that works offline."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _err(center: float, ci: tuple[float, float] | None) -> list[float]:
    if ci is None:
        return [0.0, 0.0]
    return [max(0.0, center - 100 * ci[0]), max(0.0, 100 * ci[1] - center)]


def tradeoff_plane(report: Report) -> bytes | None:
    """x = Spider change, y = MMLU change (points, paired on common questions), one point per model.

    Error bars are Newcombe 95% intervals of the paired difference; up-right is a free gain.
    """
    points = []
    for comp in report.comparisons:
        spider = comp.spider.get("overall", {}).get("official")
        mmlu = comp.mmlu.get(report.formulation or "", {}).get("overall", {}).get("micro")
        if not (spider and spider.paired and mmlu and mmlu.paired):
            continue
        points.append((comp.new.label, spider.paired, mmlu.paired))
    if not points:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    for label, sp, mm in points:
        x, y = 100 * (sp.counts.difference or 0.0), 100 * (mm.counts.difference or 0.0)
        ax.errorbar(
            x,
            y,
            xerr=[[v] for v in _err(x, sp.diff_ci)],
            yerr=[[v] for v in _err(y, mm.diff_ci)],
            fmt="o",
            capsize=4,
            markersize=7,
        )
        ax.annotate(label, (x, y), textcoords="offset points", xytext=(6, 6))
    ax.axhline(0, color="grey", lw=0.8)
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_xlabel("Spider EX (official) change (points)")
    ax.set_ylabel(f"MMLU micro accuracy change (points, {report.formulation})")
    ax.set_title("Trade-off: what fine-tuning gains on Spider vs. costs on MMLU", fontsize=10)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return to_png(fig)


def mmlu_category_changes(report: Report) -> bytes | None:
    """Grouped bars: MMLU micro change per category for each fine-tuned model, with paired CIs."""
    series = []
    for comp in report.comparisons:
        groups = comp.mmlu.get(report.formulation or "", {})
        cats = [g for g in groups if g != "overall"]
        if cats:
            series.append((comp.new.label, [(g, groups[g]["micro"]) for g in cats]))
    if not series:
        return None
    categories = list(dict.fromkeys(g for _, rows in series for g, _ in rows))
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.2, 4.2))
    width = 0.8 / len(series)
    for i, (label, rows) in enumerate(series):
        by_cat = dict(rows)
        xs: list[float] = []
        ys: list[float] = []
        errs: list[list[float]] = [[], []]
        for j, cat in enumerate(categories):
            change = by_cat.get(cat)
            if change is None or change.points is None:
                continue
            y = change.points
            lo, hi = _err(y, change.paired.diff_ci if change.paired else None)
            xs.append(j + (i - (len(series) - 1) / 2) * width)
            ys.append(y)
            errs[0].append(lo)
            errs[1].append(hi)
        ax.bar(xs, ys, width=width, yerr=errs, capsize=3, label=label)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xticks(range(len(categories)), [CATEGORY_LABELS.get(c, c) for c in categories])
    ax.set_ylabel(f"MMLU micro accuracy change (points, {report.formulation})")
    ax.set_title("MMLU change per category vs. base", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return to_png(fig)


def loss_curve(run: TrainingRun) -> bytes | None:
    if not run.loss:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.0, 3.4))
    steps, losses = zip(*run.loss)
    ax.plot(steps, losses, marker="." if len(steps) < 50 else None)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("training loss")
    ax.set_title(f"training loss: {run.label}", fontsize=10)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return to_png(fig)


def tradeoff_curves(report: Report) -> bytes | None:
    """The learning-forgetting plane: one curve per experiment through its snapshots (solid) and
    its λ points (dashed), from the base model at the origin; 95% intervals on both axes; the
    Pareto front ringed."""
    from reports.comparison.curves import curve_points

    points = curve_points(report)
    if not any(p.kind != "final" for p in points):
        return None  # single points per experiment: the trade-off plane above shows them
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.2, 5.2))
    _draw_curves(ax, points, legend=True)
    ax.set_ylabel(f"forgetting: {points[0].signal} (nats, up = worse)", fontsize=8)
    ax.set_title("Learning vs. forgetting per checkpoint and λ (ringed: Pareto front)", fontsize=10)
    fig.tight_layout()
    return to_png(fig)


def tradeoff_curves_by_category(report: Report) -> bytes | None:
    """The same plane per category of the forgetting signal (MMLU's four), one panel each."""
    from reports.comparison.curves import category_points, curve_points

    points = curve_points(report)
    if not any(p.kind != "final" for p in points):
        return None
    categories = sorted({cat for p in points for cat, _, _ in p.categories})
    if len(categories) < 2:
        return None
    plt = _pyplot()
    cols = 2
    rows = (len(categories) + 1) // 2
    fig, axes = plt.subplots(rows, cols, figsize=(9.6, 3.6 * rows), squeeze=False)
    for ax, category in zip(axes.flat, categories):
        _draw_curves(ax, category_points(points, category), legend=False, fontsize=6)
        ax.set_title(CATEGORY_LABELS.get(category, category), fontsize=9)
        ax.set_ylabel("forgetting (nats)", fontsize=7)
    for ax in list(axes.flat)[len(categories) :]:
        ax.set_visible(False)
    fig.suptitle(f"Per category: {points[0].signal}", fontsize=9)
    fig.tight_layout()
    return to_png(fig)


def _draw_curves(ax: Any, points: list[Any], legend: bool, fontsize: int = 7) -> None:
    from reports.comparison.curves import curves, pareto_front

    colors: dict[str, str] = {}
    for (experiment, kind), line in curves(points).items():
        color = colors.setdefault(experiment, f"C{len(colors)}")
        xs, ys = zip(*line)
        ax.plot(xs, ys, ls="-" if kind == "snapshots" else "--", color=color, lw=1.2, label=f"{experiment} ({kind})")
    front = pareto_front(points)
    for p in points:
        color = colors.setdefault(p.experiment, f"C{len(colors)}")
        xerr = (
            [[max(0.0, p.learning - p.learning_ci[0])], [max(0.0, p.learning_ci[1] - p.learning)]]
            if p.learning_ci
            else None
        )
        yerr = [[max(0.0, p.forgetting - p.forgetting_ci[0])], [max(0.0, p.forgetting_ci[1] - p.forgetting)]]
        ax.errorbar(p.learning, p.forgetting, xerr=xerr, yerr=yerr, fmt="o", color=color, capsize=3, ms=5, alpha=0.9)
        if p.label in front:
            ax.plot(p.learning, p.forgetting, "o", ms=13, mfc="none", mec="black", mew=1.2)
        ax.annotate(p.label, (p.learning, p.forgetting), textcoords="offset points", xytext=(5, 5), fontsize=fontsize)
    ax.plot(0, 0, "ks", ms=6)
    ax.annotate("base", (0, 0), textcoords="offset points", xytext=(5, -10), fontsize=fontsize)
    ax.axhline(0, color="grey", lw=0.8)
    ax.axvline(0, color="grey", lw=0.8)
    if points:
        ax.set_xlabel(points[0].learning_axis, fontsize=fontsize + 1)
    ax.grid(alpha=0.3)
    if legend:
        ax.legend(fontsize=fontsize)


def figures(report: Report) -> list[tuple[str, str, bytes]]:
    """(id, caption, png) for every figure the data supports."""
    out = []
    plane = tradeoff_plane(report)
    if plane:
        out.append(
            (
                "tradeoff",
                "Trade-off plane: change in Spider EX (official evaluator's verdict) (x) against change in MMLU "
                "micro accuracy (y) per fine-tuned model, on the questions both runs scored; bars are "
                "Newcombe 95% intervals of the paired change.",
                plane,
            )
        )
    curve = tradeoff_curves(report)
    if curve:
        out.append(
            (
                "tradeoff-curves",
                "Learning-forgetting plane: each experiment's curve from the base model (origin) through its "
                "snapshots (solid; t = fraction of the run) and its λ points (dashed; t = λ) to its final "
                "adapter. Bars are 95% intervals of the paired changes; ringed points form the Pareto front.",
                curve,
            )
        )
    by_category = tradeoff_curves_by_category(report)
    if by_category:
        out.append(
            (
                "tradeoff-curves-categories",
                "The learning-forgetting plane per category of the forgetting signal (same curves, same "
                "intervals; the Pareto front is each panel's own).",
                by_category,
            )
        )
    cats = mmlu_category_changes(report)
    if cats:
        out.append(
            (
                "mmlu-categories",
                "MMLU micro accuracy change per category against the base model "
                "(Newcombe 95% intervals of the paired change).",
                cats,
            )
        )
    for run in report.training:
        png = loss_curve(run)
        if png:
            out.append((f"loss-{run.label}", f"Training loss of {run.label} ({len(run.loss)} logged steps).", png))
    return out
