"""The official evaluator's text conventions (metrics/official.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import sqlparse

from metrics.official import database_files, official_gold, official_orders_rows, official_prediction

REPO = Path(__file__).resolve().parents[2]


def _sqlparse_remove_distinct(sql: str) -> str:
    """The evaluator's own definition, without our fast path."""
    return "".join(t.value for t in sqlparse.parse(sql)[0].flatten() if t.value.lower() != "distinct")


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT DISTINCT country FROM singer", "SELECT  country FROM singer"),
        ("select count(distinct x) from t", "select count( x) from t"),
        ("SELECT a FROM t WHERE b > = 2 AND c < = 3 AND d ! = 4", "SELECT a FROM t WHERE b >= 2 AND c <= 3 AND d != 4"),
        ("SELECT 'distinct', \"distinct\" FROM t", "SELECT 'distinct', \"distinct\" FROM t"),
        ("SELECT DISTINCT a FROM t; SELECT DISTINCT b FROM u", "SELECT  a FROM t; "),  # first statement only
        ("SELECT a FROM t WHERE y = YEAR(CURDATE())", "SELECT a FROM t WHERE y = 2020"),
    ],
)
def test_official_gold_rewrite(sql, expected):
    assert official_gold(sql) == expected


def test_value_placeholder_only_in_predictions():
    assert official_prediction("SELECT a FROM t WHERE b = value LIMIT 1") == "SELECT a FROM t WHERE b = 1 LIMIT 1"
    assert official_gold("SELECT a FROM t WHERE b = value LIMIT 1") == "SELECT a FROM t WHERE b = value LIMIT 1"


def test_order_is_a_substring_test():
    assert official_orders_rows("SELECT count(*) FROM t WHERE a = (SELECT a FROM u ORDER BY b LIMIT 1)")
    assert not official_orders_rows("SELECT a FROM t ORDER  BY b")  # two spaces: the official test misses it


def test_fast_path_equals_sqlparse_on_every_dev_gold_and_its_variants():
    dev = Path(os.environ.get("SPIDER_DIR", REPO.parent / "shared" / "data" / "spider")) / "dev.json"
    if not dev.is_file():
        pytest.skip(f"no Spider data at {dev.parent}")
    texts = [ex["query"] for ex in json.loads(dev.read_text())]
    texts += [t.replace("SELECT", "SELECT DISTINCT", 1) for t in texts] + [t + "; DROP TABLE x" for t in texts[:50]]
    for text in texts:
        assert official_gold(text) == _sqlparse_remove_distinct(
            text.replace("> =", ">=").replace("< =", "<=").replace("! =", "!=")
        ), text


def test_database_files_lists_the_named_file_first(tmp_path):
    for name in ("b.sqlite", "b_2.sqlite", "b_10.sqlite", "schema.sql", "notes.txt"):
        (tmp_path / name).write_text("x")
    assert [p.name for p in database_files(tmp_path / "b.sqlite")] == ["b.sqlite", "b_10.sqlite", "b_2.sqlite"]


def test_sqlparse_go_keyword_splits_as_in_the_official_code():
    text = "SELECT a FROM t GO SELECT 1"
    assert official_gold(text) == _sqlparse_remove_distinct(text)


def test_gold_limits_never_fall_below_a_floor():
    from metrics.execution_accuracy import GOLD_MIN_ROWS, gold_limits
    from metrics.sandbox import QueryLimits

    small = gold_limits(QueryLimits(timeout_s=0.5, max_rows=50))
    assert small.max_rows >= GOLD_MIN_ROWS and small.timeout_s >= 60.0
