import pytest

from tradeoff.records import CaseRecord
from tradeoff.statistics import wilson_interval
from tradeoff.suites.spider.summary import format_spider_summary, summarize_spider


def test_wilson_known_values():
    lo, hi = wilson_interval(50, 100)
    assert lo == pytest.approx(0.4038, abs=1e-4) and hi == pytest.approx(0.5962, abs=1e-4)
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == pytest.approx(1.0)
    assert wilson_interval(0, 10)[1] == pytest.approx(0.2775, abs=1e-4)


def rec(case, outcome, hardness="easy", **props):
    return CaseRecord(
        "spider",
        case,
        outcome,
        {"hardness": hardness, "db_id": case.split("-")[0], **props},
        "missing database: x" if outcome == "skipped" else None,
    )


def test_skips_and_errors_are_not_scored_and_are_counted():
    s = summarize_spider(
        [
            rec("a-0001", "passed", set_match=True, vacuous=True),
            rec("a-0002", "failed", "hard", set_match=True, failure="wrong_result"),
            rec("b-0003", "skipped"),
            rec("b-0004", "error"),
        ]
    )
    assert s["overall"]["scored"] == 2 and s["overall"]["pass_rate"] == 0.5
    assert s["overall"]["set_match_rate"] == 1.0 and s["overall"]["vacuous_matches"] == 1
    assert s["skipped"] == {"count": 1, "reasons": {"missing database: x": 1}}
    assert s["errors"] == 1
    assert s["by_hardness"]["hard"]["pass_rate"] == 0.0
    assert s["by_database"]["b"]["scored"] == 0
    assert s["failures"] == {"wrong_result": 1}


def test_every_variant_and_diagnostic_is_counted_on_the_same_cases():

    s = summarize_spider(
        [
            rec("a-0001", "passed", strict_match=False, set_match=True, more_statements=True),
            rec("a-0002", "failed", strict_match=False, set_match=True, truncated=True, failure="wrong_result"),
            rec("a-0003", "passed", strict_match=True, set_match=False),
            rec("b-0004", "skipped"),
        ]
    )
    o = s["overall"]
    assert {v: (x["passed"], o["scored"]) for v, x in o["variants"].items()} == {
        "official": (2, 3),
        "strict": (1, 3),
        "set": (2, 3),
    }
    assert o["more_statements"] == 1 and o["truncated"] == 1
    assert s["measured"] == (
        "execution accuracy under the test-suite rules on the original databases, over the scorable questions (3 of 4)"
    )
    text = "\n".join(format_spider_summary("m", s))
    assert "EX (official):" in text and "EX (strict):" in text and "EX (set, reference study):" in text
    assert "official: the official test-suite evaluator's default verdict" in text
    assert "cut at max_new_tokens 1" in text


def test_distilled_databases_are_named():
    s = summarize_spider([rec("a-0001", "passed", strict_match=True, set_match=True, databases=3)])
    assert "on the test-suite distilled databases (up to 3 per question)" in s["measured"]
