"""The trade-off as curves: every fine-tuned model is a point of its experiment's curve.

A point is one comparison against the base model. Its learning is the Spider EX change (the
official verdict, paired, with Newcombe's interval). Its forgetting is a continuous paired
signal (reports/comparison/forgetting.py), taken from the first one every point recorded:
loss per token on general text, then the MMLU cloze, then the letter gold log-probability.
Forgetting is oriented so that up means more is forgotten.

Each experiment has two curves from the base model at the origin to its final adapter: one
through its snapshots (t = the fraction of the run) and one through its λ points (t = λ,
partial adaptation). The Pareto front holds the points no other point beats on both axes:
more learning and less forgetting.
"""

from __future__ import annotations

from dataclasses import dataclass

from reports.comparison.build import Comparison, Report, fmt_p
from tradeoff.statistics import MeanChange

SIGNAL_ORDER = ("perplexity", "mmlu-cloze", "mmlu-letter")


@dataclass(frozen=True)
class CurvePoint:
    label: str
    experiment: str
    kind: str  # "snapshot" (t = fraction of the run), "scale" (t = λ) or "final" (t = 1)
    t: float
    learning: float  # Spider EX change, points
    learning_ci: tuple[float, float] | None  # points
    learning_p: float | None
    forgetting: float  # the signal's change, oriented: > 0 is forgetting
    forgetting_ci: tuple[float, float]
    forgetting_p: float
    signal: str
    # category -> (oriented change, its 95% interval) of the same signal
    categories: tuple[tuple[str, float, tuple[float, float]], ...] = ()
    learning_axis: str = "Spider EX (official) change (points)"
    ex_points: float | None = None  # the Spider EX change, whichever signal is the learning axis


def _position(c: Comparison) -> tuple[str, str, float]:
    """(experiment, kind, t) of a fine-tuned run, from its identity and adapter record."""
    data = c.new.run.data
    ident = data.get("identity") or {}
    meta = ident.get("adapter_meta") or {}
    experiment = str(meta.get("experiment") or str(data.get("model", c.new.label)).split("@")[0])
    if ident.get("adapter_scale") is not None and float(ident["adapter_scale"]) != 1.0:
        return experiment, "scale", float(ident["adapter_scale"])
    if meta.get("snapshot"):
        return experiment, "snapshot", float(meta.get("fraction") or 0.0)
    return experiment, "final", 1.0


def _recorded_by_all(report: Report, key: str) -> bool:
    """Whether every comparison with a Spider change recorded the signal `key`."""
    usable = [c for c in report.comparisons if c.spider.get("overall", {}).get("official")]
    return bool(usable) and all(any(s.key == key for s in c.forgetting) for c in usable)


def chosen_signal(report: Report) -> str | None:
    """The forgetting signal every comparison with a Spider change recorded, in SIGNAL_ORDER."""
    return next((key for key in SIGNAL_ORDER if _recorded_by_all(report, key)), None)


GOLD_SQL_AXIS = "learning: Spider gold SQL loss per answer token, decrease (nats)"


def learning_signal(report: Report) -> bool:
    """True when every point recorded the gold SQL loss: the continuous learning axis, which moves
    where execution accuracy of a small model does not; else the axis is the EX change."""
    return _recorded_by_all(report, "gold-sql")


def curve_points(report: Report) -> list[CurvePoint]:
    key = chosen_signal(report)
    if key is None:
        return []
    continuous = learning_signal(report)
    out = []
    for c in report.comparisons:
        spider = c.spider.get("overall", {}).get("official")
        signal = next((s for s in c.forgetting if s.key == key), None)
        if spider is None or spider.points is None or signal is None:
            continue
        gold = next((s for s in c.forgetting if s.key == "gold-sql"), None)
        sign = 1.0 if not signal.higher_is_better else -1.0  # up = forgetting
        ch: MeanChange = signal.change
        lo, hi = sorted((sign * ch.ci[0], sign * ch.ci[1]))
        p = ch.p_adjusted if ch.p_adjusted is not None else ch.p_value
        paired = spider.paired
        experiment, kind, t = _position(c)
        learning_ci: tuple[float, float] | None
        learning_p: float | None
        if continuous and gold is not None:  # oriented: a drop in the gold SQL's loss is learning
            g = gold.change
            learning, learning_ci = -g.diff, (-g.ci[1], -g.ci[0])
            learning_p = g.p_adjusted if g.p_adjusted is not None else g.p_value
        else:
            learning = spider.points
            learning_ci = (100 * paired.diff_ci[0], 100 * paired.diff_ci[1]) if paired and paired.diff_ci else None
            learning_p = paired.p if paired else None
        out.append(
            CurvePoint(
                c.new.label,
                experiment,
                kind,
                t,
                learning,
                learning_ci,
                learning_p,
                sign * ch.diff,
                (lo, hi),
                p,
                signal.label,
                tuple(
                    (cat, sign * m.diff, (min(sign * m.ci[0], sign * m.ci[1]), max(sign * m.ci[0], sign * m.ci[1])))
                    for cat, m in signal.by_category.items()
                ),
                GOLD_SQL_AXIS if continuous and gold is not None else "learning: Spider EX (official) change (points)",
                spider.points,
            )
        )
    return sorted(out, key=lambda p: (p.experiment, p.kind != "final", p.kind, p.t))


def pareto_front(points: list[CurvePoint]) -> set[str]:
    """Labels of the points no other point dominates (at least as much learning and at most as
    much forgetting, strictly better on one); the base model (0, 0) takes part."""
    candidates = [(p.label, p.learning, p.forgetting) for p in points] + [("base", 0.0, 0.0)]
    front = set()
    for label, x, y in candidates:
        dominated = any((x2 >= x and y2 <= y) and (x2 > x or y2 < y) for other, x2, y2 in candidates if other != label)
        if not dominated and label != "base":
            front.add(label)
    return front


def category_points(points: list[CurvePoint], category: str) -> list[CurvePoint]:
    """The points with their forgetting in one category (points without it left out)."""
    from dataclasses import replace

    out = []
    for p in points:
        found = next(((d, ci) for cat, d, ci in p.categories if cat == category), None)
        if found is not None:
            out.append(replace(p, forgetting=found[0], forgetting_ci=found[1]))
    return out


def curves(points: list[CurvePoint]) -> dict[tuple[str, str], list[tuple[float, float]]]:
    """(experiment, "snapshots" | "λ") -> the curve's (learning, forgetting) from the origin to the final adapter."""
    out: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for experiment in sorted({p.experiment for p in points}):
        mine = [p for p in points if p.experiment == experiment]
        final = [p for p in mine if p.kind == "final"]
        for kind, name in (("snapshot", "snapshots"), ("scale", "λ")):
            along = sorted((p for p in mine if p.kind == kind), key=lambda p: p.t)
            if along:
                out[(experiment, name)] = [(0.0, 0.0), *((p.learning, p.forgetting) for p in along + final)]
    return out


def best_point(points: list[CurvePoint]) -> CurvePoint | None:
    """The point on the Pareto front with the most learning (ties: the least forgetting)."""
    front = pareto_front(points)
    return max((p for p in points if p.label in front), key=lambda p: (p.learning, -p.forgetting), default=None)


def versus(report: Report, best: CurvePoint, points: list[CurvePoint]) -> list[str]:
    """The best point against every other point, paired on the questions both scored: Spider EX
    (Newcombe's interval, McNemar's exact test), the gold SQL's loss where both have it and the
    curve's forgetting signal (permutation tests), each Holm-corrected over the other points.
    Two adapters of one experiment file differ in one setting (v1 and v2: the learning rate), so
    this is that setting's effect, tested."""
    from reports.comparison.forgetting import signals
    from tradeoff.statistics import PairedCounts, holm, mcnemar_exact, newcombe_paired_diff_ci

    runs = {m.label: m.run for m in report.models}
    key = chosen_signal(report)
    rows = []
    for other in (p for p in points if p.label != best.label):
        a, b = runs[other.label].scored("spider"), runs[best.label].scored("spider")
        common = sorted(a.keys() & b.keys())
        pair = signals(runs[other.label], runs[best.label])
        signal = next((s for s in pair if s.key == key), None)
        if signal is None or not common:
            continue
        counts = PairedCounts.from_outcomes(
            [a[k].get("outcome") == "passed" for k in common], [b[k].get("outcome") == "passed" for k in common]
        )
        gold = next((s for s in pair if s.key == "gold-sql"), None)
        rows.append((other.label, counts, mcnemar_exact(counts.only_base, counts.only_new), gold, signal))
    if not rows:
        return []
    p_ex = holm([r[2] for r in rows])
    golds = [r[3] for r in rows if r[3] is not None]
    p_gold = iter(holm([g.change.p_value for g in golds]))
    p_sig = holm([r[4].change.p_value for r in rows])
    out = []
    for (label, counts, _, gold, signal), pe, ps in zip(rows, p_ex, p_sig, strict=True):
        ci = newcombe_paired_diff_ci(counts)
        text = f"vs {label}: Spider EX {100 * (counts.difference or 0.0):+.2f} points"
        if ci is not None:
            text += f" [{100 * ci[0]:+.1f}, {100 * ci[1]:+.1f}]"
        text += f" (Holm p {fmt_p(pe)})"
        if gold is not None:
            text += f", gold SQL loss {gold.change.diff:+.4f} nats (Holm p {fmt_p(next(p_gold))})"
        sign = -1.0 if signal.higher_is_better else 1.0
        out.append(f"{text}, forgetting {sign * signal.change.diff:+.4f} nats (Holm p {fmt_p(ps)})")
    return out


def headline(points: list[CurvePoint], report: Report | None = None) -> str:
    """Which point gives the best trade-off (on the front, most learning), whether its changes
    from the base are significant, and (given the report) whether it differs from the others."""
    if not points:
        return ""
    front = pareto_front(points)
    best = best_point(points)
    if best is None:
        return "No fine-tuned point beats the base model on either axis: the base model is the whole front."
    learn = "significant" if best.learning_p is not None and best.learning_p < 0.05 else "not significant"
    axis = best.learning_axis.removeprefix("learning: ")
    forget = "significant" if best.forgetting_p < 0.05 else "not significant"
    others = sorted(front - {best.label})
    return (
        f"Best trade-off: {best.label} ({best.experiment}, {best.kind} t = {best.t:g}): {axis} "
        f"{best.learning:+.4g} ({learn}, paired test), Spider EX {best.ex_points:+.2f} points, "
        f"forgetting {best.forgetting:+.4f} nats on "
        f"{best.signal} ({forget}, Holm-adjusted permutation test). "
        + (f"Also on the Pareto front: {', '.join(others)}." if others else "It is the only point on the Pareto front.")
        + (
            " Against the other points (the best point minus the other, paired): "
            + "; ".join(versus(report, best, points))
            + "."
            if report is not None and len(points) > 1
            else ""
        )
    )
