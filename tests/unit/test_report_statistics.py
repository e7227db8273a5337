"""Bootstrap intervals, McNemar's exact test and change arithmetic against known values."""

from __future__ import annotations

import builtins
import math

import numpy as np
import pytest

from tradeoff import statistics as stats
from tradeoff.statistics import (
    PairedCounts,
    absolute_change,
    bootstrap_ci,
    bootstrap_macro_ci,
    bootstrap_proportion_ci,
    exact_binomial_two_sided,
    mcnemar_exact,
    paired_bootstrap_diff_ci,
    relative_change,
)


def test_mcnemar_exact_known_value():
    # b=10 discordant pairs one way, c=2 the other: 2 * P(X <= 2 | n=12, p=1/2) = 2 * 79/4096.
    assert mcnemar_exact(10, 2) == pytest.approx(0.0386, abs=1e-4)
    assert mcnemar_exact(2, 10) == pytest.approx(mcnemar_exact(10, 2))
    assert exact_binomial_two_sided(2, 12) == pytest.approx(2 * 79 / 4096)


def test_mcnemar_without_scipy_gives_the_same_p(monkeypatch):
    real_import = builtins.__import__

    def no_scipy(name, *args, **kwargs):
        if name.startswith("scipy"):
            raise ImportError("no scipy here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_scipy)
    assert mcnemar_exact(10, 2) == pytest.approx(0.0386, abs=1e-4)


def test_own_exact_binomial_matches_scipy():
    scipy_stats = pytest.importorskip("scipy.stats")
    for n in (1, 5, 12, 31, 200):
        for k in range(0, n + 1, max(1, n // 7)):
            assert exact_binomial_two_sided(k, n) == pytest.approx(scipy_stats.binomtest(k, n, 0.5).pvalue, rel=1e-9)


def test_mcnemar_edge_cases():
    assert mcnemar_exact(0, 0) == 1.0  # no discordant pair: no evidence of a change
    assert mcnemar_exact(5, 5) == 1.0
    assert mcnemar_exact(0, 7) == pytest.approx(2 / 2**7)


def test_bootstrap_ci_of_known_proportion():
    lo, hi = bootstrap_proportion_ci(50, 100, resamples=2000, seed=0)
    # Normal approximation: 0.5 +- 1.96 * 0.05.
    assert lo == pytest.approx(0.402, abs=0.02) and hi == pytest.approx(0.598, abs=0.02)
    assert bootstrap_proportion_ci(50, 100, seed=0) == (lo, hi)  # seeded: reproducible
    assert bootstrap_ci([True] * 50 + [False] * 50, seed=0) == (lo, hi)
    assert bootstrap_proportion_ci(0, 0) is None
    assert bootstrap_proportion_ci(10, 10) == (1.0, 1.0)


def test_binomial_shortcut_matches_resampling_questions():
    """Drawing the count of correct answers is the same bootstrap as resampling question indices."""
    rng = np.random.default_rng(1)
    outcomes = rng.random(300) < 0.37
    idx = rng.integers(0, outcomes.size, size=(4000, outcomes.size))
    naive = np.quantile(outcomes[idx].mean(axis=1), [0.025, 0.975])
    lo, hi = bootstrap_ci(list(outcomes), resamples=4000, seed=3)
    assert lo == pytest.approx(naive[0], abs=0.012) and hi == pytest.approx(naive[1], abs=0.012)


def test_macro_ci_resamples_within_subjects():
    lo, hi = bootstrap_macro_ci([(90, 100), (10, 100)], seed=0)
    assert lo < 0.5 < hi
    # Mean of two independent binomial proportions: sd = sqrt(.09/100 + .09/100) / 2 = 0.0212.
    assert hi - lo == pytest.approx(2 * 1.96 * 0.0212, abs=0.015)
    assert bootstrap_macro_ci([(3, 0)]) is None


def test_paired_counts_and_difference():
    counts = PairedCounts.from_outcomes([True, True, False, False, True], [True, False, True, False, False])
    assert counts == PairedCounts(both=1, only_base=2, only_new=1, neither=1)
    assert counts.n == 5 and counts.difference == pytest.approx(-0.2)
    with pytest.raises(ValueError):
        PairedCounts.from_outcomes([True], [])


def test_paired_bootstrap_is_narrower_than_unpaired():
    """With most questions concordant, the paired interval of the change is tight."""
    counts = PairedCounts(both=400, only_base=10, only_new=30, neither=560)
    lo, hi = paired_bootstrap_diff_ci(counts, seed=0)
    assert lo < counts.difference < hi and lo > 0
    # sd of the paired difference ~ sqrt((b + c) - (c - b)^2 / n) / n
    sd = ((40 - 20**2 / 1000) ** 0.5) / 1000
    assert hi - lo == pytest.approx(2 * 1.96 * sd, rel=0.15)
    unpaired = np.hypot(*(np.diff(bootstrap_proportion_ci(k, 1000, seed=s))[0] for k, s in ((410, 1), (430, 2))))
    assert hi - lo < unpaired / 2
    assert paired_bootstrap_diff_ci(PairedCounts(0, 0, 0, 0)) is None


def test_changes_from_aggregated_accuracies():
    assert absolute_change(0.2686, 0.2350) == pytest.approx(-3.36)
    # The reference study's Social Sciences 26.86 -> 23.50 is a 12.51% relative drop.
    assert round(relative_change(0.2686, 0.2350), 2) == -12.51
    assert relative_change(0.0, 0.1) is None and absolute_change(None, 0.1) is None
    assert relative_change(float("nan"), 0.5) is None


def test_defaults_are_the_documented_ones():
    assert stats.RESAMPLES == 2000 and stats.LEVEL == 0.95


def test_intervals_do_not_collapse_at_zero_or_all():
    from tradeoff.statistics import newcombe_paired_diff_ci, wilson_interval

    lo, hi = wilson_interval(0, 22)
    assert lo == 0.0 and hi == pytest.approx(0.1487, abs=1e-4)  # the committed study's 0/22, Wilson [0, 14.9]
    lo, hi = wilson_interval(22, 22)
    assert hi == 1.0 and lo == pytest.approx(1 - 0.1487, abs=1e-4)
    none_right = newcombe_paired_diff_ci(PairedCounts(0, 0, 0, 22))
    assert none_right[0] < 0 < none_right[1] and none_right[0] == pytest.approx(-none_right[1])


def test_newcombe_interval_is_the_paired_one():
    from tradeoff.statistics import newcombe_paired_diff_ci, wilson_interval

    counts = PairedCounts(both=40, only_base=5, only_new=15, neither=40)
    lo, hi = newcombe_paired_diff_ci(counts)
    assert lo < counts.difference < hi and lo > 0  # McNemar p = 0.041: the interval excludes 0 too
    # pairing narrows it: agreeing questions make it tighter than the unpaired Wilson combination
    (l1, u1), (l2, u2) = wilson_interval(45, 100), wilson_interval(55, 100)
    unpaired = (
        0.10 - math.sqrt((u1 - 0.45) ** 2 + (0.55 - l2) ** 2),
        0.10 + math.sqrt((0.45 - l1) ** 2 + (u2 - 0.55) ** 2),
    )
    assert hi - lo < unpaired[1] - unpaired[0]
    swapped = newcombe_paired_diff_ci(PairedCounts(both=40, only_base=15, only_new=5, neither=40))
    assert swapped == pytest.approx((-hi, -lo))


def test_holm_and_benjamini_hochberg_on_a_hand_made_family():
    from tradeoff.statistics import benjamini_hochberg, holm, min_mcnemar_p

    p = [0.01, 0.04, 0.03, 0.20]
    assert holm(p) == pytest.approx([0.04, 0.09, 0.09, 0.20])
    assert benjamini_hochberg(p) == pytest.approx([0.04, 0.16 / 3, 0.16 / 3, 0.20])
    assert holm([]) == [] and holm([0.7]) == [0.7]
    assert min_mcnemar_p(4) == 0.125 and min_mcnemar_p(6) < 0.05  # 4 questions per subject can never be significant
