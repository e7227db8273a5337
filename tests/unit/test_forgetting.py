"""Continuous forgetting signals: the gold log-probability, the paired mean change with its
interval and test, and the report section built from synthetic results."""

import json
import math

import pytest

from reports.comparison.forgetting import signals, verdict
from reports.comparison.loading import Run
from tradeoff.statistics import paired_mean_change
from tradeoff.suites.mmlu.signals import gold_logprob


def test_gold_logprob_letter_is_normalised_over_the_four_letters():
    lls = [-1.0, -2.0, -3.0, -4.0]
    z = sum(math.exp(v) for v in lls)
    assert gold_logprob(lls, 1, "letter", "ABCD") == pytest.approx(-2.0 - math.log(z))
    # adding a constant to every letter changes nothing: only the distribution over A-D counts
    assert gold_logprob([v - 7 for v in lls], 1, "letter", "ABCD") == pytest.approx(
        gold_logprob(lls, 1, "letter", "ABCD")
    )


def test_gold_logprob_cloze_is_per_character_of_the_gold_option():
    assert gold_logprob([-6.0, -8.0, -1.0, -2.0], 1, "cloze", ["ab", "abcd", "a", "b"]) == pytest.approx(-2.0)


def test_paired_mean_change_on_a_hand_made_table():
    base = [-1.0, -1.2, -0.8, -1.1, -0.9, -1.0, -1.3, -0.7]
    new = [b - 0.3 for b in base]  # every question drops by 0.3 nats
    c = paired_mean_change(base, new, resamples=2000, seed=0)
    assert c.n == 8 and c.diff == pytest.approx(-0.3)
    assert c.base == pytest.approx(sum(base) / 8) and c.new == pytest.approx(sum(new) / 8)
    assert c.ci == pytest.approx((-0.3, -0.3))  # identical differences: no spread
    assert c.p_value == pytest.approx(1 / 2001 * (1 + 2000 * 2**-7), abs=0.01)  # only all-same-sign flips tie
    assert c.p_value < 0.05
    mixed = paired_mean_change(base, [b + d for b, d in zip(base, [0.3, -0.3] * 4)], resamples=2000, seed=0)
    assert mixed.diff == pytest.approx(0.0) and mixed.p_value == 1.0
    lo, hi = mixed.ci
    assert lo < 0 < hi


def test_weights_give_the_token_weighted_mean():
    c = paired_mean_change([1.0, 2.0], [2.0, 2.0], weights=[3.0, 1.0], resamples=200)
    assert c.diff == pytest.approx(3.0 / 4.0)  # (3 * 1 + 1 * 0) / 4
    with pytest.raises(ValueError):
        paired_mean_change([1.0], [1.0, 2.0])
    assert paired_mean_change([], []) is None


def run(label: str, shift: float, tmp_path) -> Run:
    cases = []
    for i in range(40):
        category = "stem" if i % 2 else "other"
        cases.append(
            {
                "suite": "mmlu",
                "case_id": f"anatomy-test-{i:04d}-letter",
                "outcome": "failed",  # accuracy identical (all wrong) in both runs
                "props": {"formulation": "letter", "category": category, "gold_logprob": -1.5 - 0.01 * i + shift},
            }
        )
        cases.append(
            {
                "suite": "perplexity",
                "case_id": f"anatomy-val-{i:04d}-text",
                "outcome": "passed",
                "props": {"category": category, "loglikelihood": -40.0 - i + 10 * shift, "tokens": 20},
            }
        )
    path = tmp_path / f"{label}.json"
    path.write_text(json.dumps({"model": label, "cases": cases}))
    return Run(label, path, json.loads(path.read_text()))


def test_signals_pair_questions_and_detect_forgetting_that_accuracy_cannot(tmp_path):
    base, new = run("base", 0.0, tmp_path), run("v1", -0.2, tmp_path)
    found = {s.key: s for s in signals(base, new, resamples=500)}
    assert set(found) == {"mmlu-letter", "perplexity"}
    letter, text = found["mmlu-letter"], found["perplexity"]
    assert letter.change.n == 40 and letter.change.diff == pytest.approx(-0.2)
    assert text.change.diff == pytest.approx(2.0 / 20)  # loss per token rises by 0.1 nats
    assert verdict(letter) == verdict(text) == "forgetting"
    assert set(letter.by_category) == {"stem", "other"}
    assert all(c.p_adjusted is not None for c in letter.by_category.values())
    same = {s.key: s for s in signals(base, run("v0", 0.0, tmp_path), resamples=500)}
    assert verdict(same["mmlu-letter"]) == "no significant change"


def test_the_comparison_report_shows_the_signals(tmp_path):
    from reports.compare import build_report

    (tmp_path / "results").mkdir()
    for label, shift, identity in (
        ("base", 0.0, {"base": "x", "base_sha256": "aaa"}),
        ("v1", -0.2, {"base": "x", "base_sha256": "aaa", "adapter_sha256": "fff"}),
    ):
        r = run(label, shift, tmp_path)
        data = {**r.data, "identity": identity, "settings": {}, "suites": {}}
        (tmp_path / "results" / f"{label}.json").write_text(json.dumps(data))
    index = build_report(tmp_path, resamples=200)
    page = index.read_text()
    assert "Continuous signals (paired): forgetting and learning" in page and "forgetting" in page
    assert "MMLU letter: gold log-probability" in (index.parent / "summary.md").read_text()
