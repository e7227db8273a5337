"""Export for the official evaluator: gold.txt and pred.txt for the same scored cases, dev order."""

import pytest

from tradeoff.errors import UserError
from tradeoff.suites.spider.export import export


def case(case_id, outcome, gold="SELECT 1", prediction="SELECT 1", db="db"):
    return {
        "suite": "spider",
        "case_id": case_id,
        "outcome": outcome,
        "props": {"gold": gold, "db_id": db, "prediction": prediction},
    }


def test_scored_cases_in_dev_order_one_line_each():
    results = {
        "cases": [
            case("b-0010", "failed", gold="SELECT a\n  FROM t", prediction="SELECT\tb\nFROM t"),
            case("a-0002", "passed"),
            {"suite": "spider", "case_id": "wta_1-0005", "outcome": "skipped", "props": {}},
            case("c-0007", "failed", prediction=""),
            {"suite": "mmlu", "case_id": "anatomy-test-0001-letter", "outcome": "passed", "props": {}},
        ]
    }
    gold, pred, skipped = export(results)
    assert gold == ["SELECT 1\tdb", "SELECT 1\tdb", "SELECT a FROM t\tdb"]  # 0002, 0007, 0010
    assert pred == ["SELECT 1", "", "SELECT b FROM t"]  # an empty answer stays an empty line
    assert skipped == 1


def test_results_without_spider_cases_are_refused():
    with pytest.raises(UserError, match="no Spider cases"):
        export({"cases": []})
