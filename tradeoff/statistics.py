"""Confidence intervals, paired tests and multiplicity corrections for accuracy changes.

Accuracies (proportions) get Wilson score intervals, sane at 0/n and n/n where a percentile
bootstrap collapses to a point; a paired difference gets Newcombe's hybrid score interval for
paired proportions (Newcombe 1998, method 10), built from the same two Wilson intervals and the
pairs' correlation; the paired test is McNemar's exact test. Families of tests (per category,
per subject, per hardness level) are corrected with Holm's step-down method (Benjamini-Hochberg
is offered beside it). Macro averages, which are no proportion, keep a stratified bootstrap:

Bootstrap over questions, seeded so a report rebuilt from the same results is identical.
For a 0/1 outcome, resampling n questions with replacement only matters through how many
correct ones are drawn, which is Binomial(n, k/n); for paired outcomes it is a multinomial
draw over the four (base, new) cells. Drawing those counts directly has exactly the
distribution of the naive resampling but costs O(resamples) instead of O(resamples x n),
so a full MMLU run (14k questions) gets its intervals in milliseconds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

RESAMPLES = 2000
SEED = 0
LEVEL = 0.95


Z95 = 1.959963984540054  # the two-sided 95% normal quantile


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """95% Wilson score interval of k/n; (0, 0) when nothing was scored."""
    if n == 0:
        return (0.0, 0.0)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def newcombe_paired_diff_ci(counts: PairedCounts, z: float = Z95) -> tuple[float, float] | None:
    """95% interval of (new - base) accuracy on paired questions: Newcombe's method 10.

    Each model's accuracy gets its Wilson interval; the two are combined with phi, the
    correlation of the 2x2 table (0 when a margin is empty), so agreeing questions narrow it.
    """
    n = counts.n
    if n == 0:
        return None
    a, b, c, d = counts.both, counts.only_base, counts.only_new, counts.neither
    p_base, p_new = (a + b) / n, (a + c) / n
    l_base, u_base = wilson_interval(a + b, n, z)
    l_new, u_new = wilson_interval(a + c, n, z)
    margins = (a + b) * (c + d) * (a + c) * (b + d)
    phi = (a * d - b * c) / math.sqrt(margins) if margins > 0 else 0.0
    diff = p_new - p_base
    below = math.sqrt(
        max(0.0, (u_base - p_base) ** 2 - 2 * phi * (u_base - p_base) * (p_new - l_new) + (p_new - l_new) ** 2)
    )
    above = math.sqrt(
        max(0.0, (p_base - l_base) ** 2 - 2 * phi * (p_base - l_base) * (u_new - p_new) + (u_new - p_new) ** 2)
    )
    return (max(-1.0, diff - below), min(1.0, diff + above))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error), in the input order."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [1.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (false discovery rate), in the input order."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i], reverse=True)
    adjusted = [1.0] * m
    running = 1.0
    for rank, i in enumerate(order):
        running = min(running, m * p_values[i] / (m - rank))
        adjusted[i] = min(1.0, running)
    return adjusted


def min_mcnemar_p(pairs: int) -> float:
    """The smallest p-value McNemar's exact test can give on `pairs` questions (all discordant,
    all one way): below 6 questions it cannot reach 0.05 whatever the models do."""
    return min(1.0, 2 * 0.5**pairs) if pairs > 0 else 1.0


def _rng(seed: int) -> np.random.Generator:
    # One generator per interval: an interval does not depend on which others were computed.
    return np.random.default_rng(seed)


def _percentile_interval(stats: np.ndarray, level: float) -> tuple[float, float]:
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(stats, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def bootstrap_proportion_ci(
    successes: int, n: int, *, resamples: int = RESAMPLES, seed: int = SEED, level: float = LEVEL
) -> tuple[float, float] | None:
    """Percentile bootstrap interval of an accuracy k/n (None when nothing was scored)."""
    if n <= 0:
        return None
    draws = _rng(seed).binomial(n, successes / n, size=resamples) / n
    return _percentile_interval(draws, level)


def bootstrap_ci(
    outcomes: Sequence[bool], *, resamples: int = RESAMPLES, seed: int = SEED, level: float = LEVEL
) -> tuple[float, float] | None:
    """Bootstrap interval of the mean of 0/1 outcomes, one per question."""
    return bootstrap_proportion_ci(sum(map(bool, outcomes)), len(outcomes), resamples=resamples, seed=seed, level=level)


def bootstrap_macro_ci(
    per_subject: Sequence[tuple[int, int]], *, resamples: int = RESAMPLES, seed: int = SEED, level: float = LEVEL
) -> tuple[float, float] | None:
    """Interval of a macro average (mean of per-subject accuracies) from (correct, total) pairs.

    Questions are resampled within each subject (a stratified bootstrap): resampling across
    subjects could drop a subject and change what the macro average is an average of.
    """
    cells = [(k, n) for k, n in per_subject if n > 0]
    if not cells:
        return None
    k = np.array([c[0] for c in cells], dtype=float)
    n = np.array([c[1] for c in cells], dtype=np.int64)
    draws = _rng(seed).binomial(n, k / n, size=(resamples, len(cells))) / n
    return _percentile_interval(draws.mean(axis=1), level)


@dataclass(frozen=True)
class PairedCounts:
    """Outcomes of two models on the same questions."""

    both: int  # both right
    only_base: int  # base right, new wrong (McNemar's b)
    only_new: int  # base wrong, new right (McNemar's c)
    neither: int

    @property
    def n(self) -> int:
        return self.both + self.only_base + self.only_new + self.neither

    @property
    def difference(self) -> float | None:
        """Accuracy of new minus accuracy of base, on these questions (a fraction)."""
        return (self.only_new - self.only_base) / self.n if self.n else None

    @classmethod
    def from_outcomes(cls, base: Sequence[bool], new: Sequence[bool]) -> PairedCounts:
        if len(base) != len(new):
            raise ValueError("paired outcomes must have the same length")
        cells = [0, 0, 0, 0]
        for a, b in zip(base, new):
            cells[(0 if a else 2) + (0 if b else 1)] += 1
        both, only_base, only_new, neither = cells
        return cls(both, only_base, only_new, neither)


def paired_bootstrap_diff_ci(
    counts: PairedCounts, *, resamples: int = RESAMPLES, seed: int = SEED, level: float = LEVEL
) -> tuple[float, float] | None:
    """Interval of (new - base) accuracy, resampling questions so each keeps both outcomes.

    Pairing is what makes it narrow: questions both models get right or wrong move neither.
    """
    n = counts.n
    if n == 0:
        return None
    p = np.array([counts.both, counts.only_base, counts.only_new, counts.neither], dtype=float) / n
    draws = _rng(seed).multinomial(n, p, size=resamples)
    diffs = (draws[:, 2] - draws[:, 1]) / n
    return _percentile_interval(diffs, level)


def exact_binomial_two_sided(k: int, n: int) -> float:
    """Two-sided exact binomial p-value for k successes in n trials at p = 1/2.

    With p = 1/2 the distribution is symmetric, so the usual "sum of outcomes no more likely
    than the observed one" equals twice the smaller tail (capped at 1).
    """
    if n == 0:
        return 1.0
    tail = min(k, n - k)
    # Integer arithmetic: exact even where float pmfs would underflow.
    mass = sum(math.comb(n, i) for i in range(tail + 1))
    return min(1.0, 2 * mass / 2**n)


def mcnemar_exact(only_base: int, only_new: int) -> float:
    """McNemar's exact test: are the discordant pairs split evenly, as under no real change?

    Uses scipy.stats.binomtest when scipy is installed, else the same exact test here.
    """
    n = only_base + only_new
    if n == 0:
        return 1.0
    try:
        from scipy.stats import binomtest
    except ImportError:
        return exact_binomial_two_sided(only_new, n)
    return float(min(1.0, binomtest(only_new, n, 0.5, alternative="two-sided").pvalue))


def absolute_change(base: float | None, new: float | None) -> float | None:
    """Change in percentage points between two accuracies given as fractions."""
    if base is None or new is None or math.isnan(base) or math.isnan(new):
        return None
    return 100.0 * (new - base)


def relative_change(base: float | None, new: float | None) -> float | None:
    """Change in percent of the base accuracy, from the two aggregated accuracies.

    Never the mean of per-subject ratios: that weights a 5-question subject like a 500-question
    one and blows up where the base is near zero, so an aggregate drop can read as a gain.
    """
    if base is None or new is None or math.isnan(base) or math.isnan(new) or base == 0:
        return None
    return 100.0 * (new - base) / base


@dataclass(frozen=True)
class MeanChange:
    """A paired change of a continuous per-question score (new - base), weighted over the pairs."""

    n: int
    base: float
    new: float
    diff: float
    ci: tuple[float, float]
    p_value: float
    p_adjusted: float | None = None


def paired_mean_change(
    base: Sequence[float],
    new: Sequence[float],
    weights: Sequence[float] | None = None,
    *,
    resamples: int = RESAMPLES,
    seed: int = SEED,
    level: float = LEVEL,
) -> MeanChange | None:
    """Weighted mean of (new - base) over pairs, with a percentile bootstrap interval that
    resamples pairs (each keeps both scores) and a two-sided sign-flip permutation p-value
    (under no change, each pair's difference is as likely to have either sign).

    Weights make a token-weighted mean (perplexity: per-token loss of each text, weighted by
    its tokens, is the corpus-level loss); None weighs every pair equally."""
    b, a = np.asarray(base, dtype=float), np.asarray(new, dtype=float)
    if b.shape != a.shape:
        raise ValueError(f"{b.size} base scores for {a.size} new ones")
    n = int(b.size)
    if n == 0:
        return None
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    d = a - b
    total = w.sum()
    diff = float((w * d).sum() / total)
    rng = _rng(seed)
    draws = rng.integers(0, n, size=(resamples, n))
    boot = (w[draws] * d[draws]).sum(axis=1) / w[draws].sum(axis=1)
    signs = rng.choice(np.array([-1.0, 1.0]), size=(resamples, n))
    flipped = np.abs((signs * w * d).sum(axis=1) / total)
    p = float((1 + np.count_nonzero(flipped >= abs(diff) - 1e-12)) / (resamples + 1)) if diff != 0 else 1.0
    return MeanChange(
        n, float((w * b).sum() / total), float((w * a).sum() / total), diff, _percentile_interval(boot, level), p
    )
