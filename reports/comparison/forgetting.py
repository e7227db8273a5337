"""Continuous signals that move before accuracy does, each paired question by question.

- MMLU, per formulation: the gold answer's log-probability (letter: normalised over A-D;
  cloze: the gold option's log-likelihood per character, what acc_norm ranks by), recorded
  per case by the MMLU suite (`gold_logprob`). Higher is better; a drop is forgetting.
- Perplexity suite: the loss per token (nats) on general text, token-weighted over texts.
  Lower is better; a rise is forgetting (Kalajdzievski 2024).
- Gold SQL suite: the loss per token of the gold SQL as the answer to each Spider question, the
  learning signal beside execution accuracy. Lower is better; a drop is learning.

Each is a weighted mean of per-question differences over the questions both runs scored, with a
bootstrap interval and a sign-flip permutation p-value from the same pairs
(tradeoff.statistics.paired_mean_change); the overall signals of one comparison form one Holm
family, and so do the categories of each signal.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Any

from reports.comparison.loading import Run
from tradeoff.statistics import RESAMPLES, SEED, MeanChange, holm, paired_mean_change

FORMULATIONS = ("letter", "cloze")


@dataclass(frozen=True)
class Signal:
    key: str  # "mmlu-letter", "mmlu-cloze", "perplexity"
    label: str
    unit: str
    higher_is_better: bool
    change: MeanChange
    by_category: dict[str, MeanChange] = field(default_factory=dict)
    kind: str = "forgetting"  # or "learning": what a significant change in the good direction means

    @property
    def forgetting(self) -> bool:
        """True when the change is significant (Holm-adjusted p < 0.05) and in the bad direction."""
        p = self.change.p_adjusted if self.change.p_adjusted is not None else self.change.p_value
        worse = self.change.diff < 0 if self.higher_is_better else self.change.diff > 0
        return p < 0.05 and worse


def _paired(
    a: dict[str, dict[str, Any]],
    b: dict[str, dict[str, Any]],
    value: Any,
    weight: Any,
    resamples: int,
    seed: int,
) -> tuple[MeanChange | None, dict[str, MeanChange]]:
    def change(keys: list[str]) -> MeanChange | None:
        return paired_mean_change(
            [value(a[k]) for k in keys],
            [value(b[k]) for k in keys],
            [weight(a[k]) for k in keys],
            resamples=resamples,
            seed=seed,
        )

    common = sorted(k for k in a.keys() & b.keys() if value(a[k]) is not None and value(b[k]) is not None)
    if not common:
        return None, {}
    overall = change(common)
    groups: dict[str, list[str]] = defaultdict(list)
    for k in common:
        groups[str((a[k].get("props") or {}).get("category", "unknown"))].append(k)
    per = {}
    for category, keys in sorted(groups.items()):
        found = change(keys)
        if found is not None:
            per[category] = found
    adjusted = holm([c.p_value for c in per.values()])
    per = {cat: replace(c, p_adjusted=p) for (cat, c), p in zip(per.items(), adjusted, strict=True)}
    return overall, per


def _prop(name: str) -> Any:
    def get(case: dict[str, Any]) -> float | None:
        value = (case.get("props") or {}).get(name)
        return None if value is None else float(value)

    return get


def _loss_per_token(case: dict[str, Any]) -> float | None:
    props = case.get("props") or {}
    if props.get("loglikelihood") is None or not props.get("tokens"):
        return None
    return -float(props["loglikelihood"]) / int(props["tokens"])


def signals(base: Run, new: Run, resamples: int = RESAMPLES, seed: int = SEED) -> list[Signal]:
    """Every continuous forgetting signal both runs recorded, Holm-adjusted as one family."""
    out: list[Signal] = []
    for formulation in FORMULATIONS:
        a, b = base.scored("mmlu", formulation), new.scored("mmlu", formulation)
        overall, per = _paired(a, b, _prop("gold_logprob"), lambda c: 1.0, resamples, seed)
        if overall is not None:
            what = "normalised over A-D" if formulation == "letter" else "per character of the gold option"
            out.append(
                Signal(
                    f"mmlu-{formulation}",
                    f"MMLU {formulation}: gold log-probability ({what})",
                    "nats",
                    True,
                    overall,
                    per,
                )
            )
    tokens = _prop("tokens")
    a, b = base.scored("perplexity"), new.scored("perplexity")
    overall, per = _paired(a, b, _loss_per_token, lambda c: tokens(c) or 1.0, resamples, seed)
    if overall is not None:
        out.append(Signal("perplexity", "general text: loss per token (log perplexity)", "nats", False, overall, per))
    a, b = base.scored("gold_sql"), new.scored("gold_sql")
    overall, per = _paired(a, b, _loss_per_token, lambda c: tokens(c) or 1.0, resamples, seed)
    if overall is not None:
        label = "Spider gold SQL: loss per answer token (learning signal)"
        out.append(Signal("gold-sql", label, "nats", False, overall, per, kind="learning"))
    adjusted = holm([s.change.p_value for s in out])
    return [replace(s, change=replace(s.change, p_adjusted=p)) for s, p in zip(out, adjusted, strict=True)]


def verdict(signal: Signal) -> str:
    p = signal.change.p_adjusted if signal.change.p_adjusted is not None else signal.change.p_value
    if p >= 0.05:
        return "no significant change"
    if signal.forgetting:  # significant and in the bad direction
        return "forgetting" if signal.kind == "forgetting" else "worse"
    return "learning" if signal.kind == "learning" else "better"


def rows(signals_: list[Signal]) -> list[list[str]]:
    """Table rows: signal, pairs, base, new, change [95% CI], p (Holm), verdict."""
    out = []
    for s in signals_:
        c = s.change
        out.append(
            [
                s.label,
                str(c.n),
                f"{c.base:.4f}",
                f"{c.new:.4f}",
                f"{c.diff:+.4f} [{c.ci[0]:+.4f}, {c.ci[1]:+.4f}]",
                _p(c),
                verdict(s),
            ]
        )
    return out


def category_rows(signal: Signal) -> list[list[str]]:
    return [
        [category, str(c.n), f"{c.diff:+.4f} [{c.ci[0]:+.4f}, {c.ci[1]:+.4f}]", _p(c)]
        for category, c in signal.by_category.items()
    ]


def _p(c: MeanChange) -> str:
    def fmt(p: float) -> str:
        return "<0.001" if p < 0.001 else f"{p:.3f}"

    return fmt(c.p_value) + ("" if c.p_adjusted is None else f" (Holm {fmt(c.p_adjusted)})")


HEADERS = ["signal", "pairs", "base", "new", "change [95% CI]", "p (Holm)", "verdict"]
CATEGORY_HEADERS = ["category", "pairs", "change [95% CI]", "p (Holm)"]
EXPLAINED = (
    "Continuous signals, paired question by question on what both models scored: a weighted mean of "
    "per-question differences (new − base) with a bootstrap 95% interval over questions and a sign-flip "
    "permutation test; Holm-adjusted within each comparison. Gold log-probability: higher is better; "
    "loss per token on general text and on the gold SQL: lower is better. They can show forgetting and "
    "learning that accuracy, at chance for a small model, cannot."
)
