"""Confidence intervals and paired tests for accuracy changes between two models.

Bootstrap over questions, seeded so a report rebuilt from the same results is identical.
For a 0/1 outcome, resampling n questions with replacement only matters through how many
correct ones are drawn, which is Binomial(n, k/n); for paired outcomes it is a multinomial
draw over the four (base, new) cells. Drawing those counts directly has exactly the
distribution of the naive resampling but costs O(resamples) instead of O(resamples x n),
so a full MMLU run (14k questions) gets its intervals in milliseconds.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

RESAMPLES = 2000
SEED = 0
LEVEL = 0.95


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
    def from_outcomes(cls, base: Sequence[bool], new: Sequence[bool]) -> "PairedCounts":
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
