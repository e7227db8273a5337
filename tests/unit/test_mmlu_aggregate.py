"""Per-subject, per-category and overall MMLU accuracy, micro and macro."""

from __future__ import annotations

import math

import pytest

from tradeoff.suites.mmlu.aggregate import Accuracy, outcomes_from_scores, per_subject_accuracy, summarize
from tradeoff.suites.mmlu.scoring import QuestionScore

# stem: anatomy 1/1, abstract_algebra 1/3; other: virology 0/2
TABLE = [
    ("anatomy", True),
    ("abstract_algebra", True),
    ("abstract_algebra", False),
    ("abstract_algebra", False),
    ("virology", False),
    ("virology", False),
]


def test_per_subject_counts():
    assert per_subject_accuracy(TABLE) == {
        "abstract_algebra": Accuracy(1, 3),
        "anatomy": Accuracy(1, 1),
        "virology": Accuracy(0, 2),
    }


def test_micro_and_macro_differ_and_are_named():
    summary = summarize(TABLE)
    stem = summary.per_category["stem"]
    assert (stem.micro, stem.macro) == (pytest.approx(2 / 4), pytest.approx((1 + 1 / 3) / 2))
    assert (stem.questions, stem.subjects) == (4, 2)
    assert list(summary.per_category) == ["stem", "other"]
    assert summary.overall.micro == pytest.approx(2 / 6)
    assert summary.overall.macro == pytest.approx((1 + 1 / 3 + 0) / 3)
    flat = summary.as_dict()
    assert flat["overall_micro_acc"] == pytest.approx(1 / 3)
    assert flat["overall_macro_acc"] == pytest.approx(4 / 9)
    assert flat["stem_macro_acc"] == pytest.approx(2 / 3)
    assert flat["subject/virology_acc"] == 0.0
    assert "humanities_micro_acc" not in flat


def test_equal_subject_sizes_make_micro_equal_macro():
    summary = summarize([("anatomy", True), ("anatomy", False), ("virology", True), ("virology", True)])
    assert summary.overall.micro == pytest.approx(summary.overall.macro) == pytest.approx(0.75)


def test_scores_feed_the_summary_with_the_chosen_metric():
    scores = [
        QuestionScore("virology-test-0000", "virology", 1, "cloze", (-1.0, -2.0, -3.0, -4.0), 0, 1, 1),
        QuestionScore("virology-test-0001", "virology", 0, "cloze", (-1.0, -2.0, -3.0, -4.0), 0, 1, 1),
    ]
    assert outcomes_from_scores(scores) == [("virology", True), ("virology", False)]
    assert outcomes_from_scores(scores, "acc_correct") == [("virology", False), ("virology", True)]


def test_unknown_subject_is_rejected_and_empty_is_nan():
    with pytest.raises(KeyError):
        summarize([("astrology", True)])
    assert math.isnan(summarize([]).overall.micro)
