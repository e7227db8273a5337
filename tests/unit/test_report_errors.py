"""Error categories of failed Spider cases, one hand-made predicted/gold pair per category."""

from __future__ import annotations

from pathlib import Path

import pytest

from reports.comparison.error_analysis import CATEGORIES, analyze, classify, flips, parse_sql, schema_names
from reports.comparison.loading import load_runs

FIXTURES = Path(__file__).resolve().parents[1] / "helpers" / "fixtures_results"

STRUCTURAL = [
    # (category, prediction, gold)
    (
        "missing_join",
        "SELECT name FROM singer",
        "SELECT T2.name FROM singer_in_concert AS T1 JOIN singer AS T2 ON T1.singer_id = T2.singer_id",
    ),
    (
        "extra_join",
        "SELECT T2.name FROM singer_in_concert AS T1 JOIN singer AS T2 ON T1.singer_id = T2.singer_id",
        "SELECT name FROM singer",
    ),
    ("wrong_tables", "SELECT name FROM stadium", "SELECT name FROM singer"),
    (
        "missing_subquery",
        "SELECT name FROM singer WHERE age > 30",
        "SELECT name FROM singer WHERE age > (SELECT avg(age) FROM singer)",
    ),
    (
        "extra_subquery",
        "SELECT name FROM singer WHERE age > (SELECT avg(age) FROM singer)",
        "SELECT name FROM singer WHERE age > 30",
    ),
    (
        "missing_negation",
        "SELECT name FROM singer WHERE singer_id IN (SELECT singer_id FROM singer_in_concert)",
        "SELECT name FROM singer WHERE singer_id NOT IN (SELECT singer_id FROM singer_in_concert)",
    ),
    (
        "missing_negation",
        "SELECT name FROM singer",
        "SELECT name FROM singer EXCEPT SELECT T2.name FROM singer_in_concert AS T1 JOIN singer AS T2 ON T1.singer_id = T2.singer_id",
    ),
    (
        "missing_negation",
        "SELECT name FROM stadium WHERE EXISTS (SELECT 1 FROM concert WHERE concert.stadium_id = stadium.stadium_id)",
        "SELECT name FROM stadium WHERE NOT EXISTS (SELECT 1 FROM concert WHERE concert.stadium_id = stadium.stadium_id)",
    ),
    (
        "wrong_set_operation",
        "SELECT name FROM singer WHERE age > 30 UNION SELECT name FROM singer WHERE age < 20",
        "SELECT name FROM singer WHERE age > 30 INTERSECT SELECT name FROM singer WHERE age < 20",
    ),
    ("wrong_aggregation", "SELECT max(capacity) FROM stadium", "select avg(capacity) from stadium"),
    ("wrong_aggregation", "SELECT count(country) FROM singer", "SELECT count(DISTINCT country) FROM singer"),
    (
        "wrong_group_by",
        "SELECT country, count(*) FROM singer GROUP BY name",
        "SELECT country, count(*) FROM singer GROUP BY country",
    ),
    (
        "wrong_group_by",
        "SELECT country FROM singer GROUP BY country",
        "SELECT country FROM singer GROUP BY country HAVING count(*) > 1",
    ),
    (
        "wrong_order_limit",
        "SELECT name FROM singer ORDER BY age ASC LIMIT 1",
        "SELECT name FROM singer ORDER BY age DESC LIMIT 1",
    ),
    (
        "wrong_order_limit",
        "SELECT name FROM singer ORDER BY age DESC LIMIT 3",
        "SELECT name FROM singer ORDER BY age DESC LIMIT 1",
    ),
    ("wrong_columns", "SELECT name, age FROM singer", "SELECT name, country FROM singer"),
    ("wrong_columns", "SELECT country FROM singer", "SELECT DISTINCT country FROM singer"),
    (
        "wrong_literals",
        "SELECT name FROM singer WHERE country = 'france'",
        'SELECT name FROM singer WHERE country = "France"',
    ),
    ("wrong_condition", "SELECT name FROM singer WHERE age < 30", "SELECT name FROM singer WHERE age > 30"),
    ("wrong_condition", "SELECT name FROM singer", "SELECT name FROM singer WHERE is_male = 'F'"),
]


@pytest.mark.parametrize(
    ("category", "prediction", "gold"), STRUCTURAL, ids=[f"{c}-{i}" for i, (c, _, _) in enumerate(STRUCTURAL)]
)
def test_structural_category(category, prediction, gold):
    assert category in classify(prediction, gold, "wrong_result")


@pytest.mark.parametrize("failure", ["syntax_error", "multiple_statements", "denied", "empty_output"])
def test_execution_failures_without_a_query_to_compare(failure):
    assert classify("SELECT FROM WHERE ((", "SELECT name FROM singer", failure) == [failure]


@pytest.mark.parametrize("failure", ["runtime_error", "timeout", "too_many_rows"])
def test_structure_is_counted_only_for_queries_that_executed(failure):
    prediction, gold = "SELECT name FROM singer, concert, stadium", "SELECT name FROM singer"
    assert classify(prediction, gold, failure) == [failure]
    assert "extra_join" in classify(prediction, gold, "wrong_result")


def test_only_the_real_differences_are_reported():
    assert classify(
        "SELECT name FROM singer ORDER BY age DESC LIMIT 1",
        "SELECT name FROM singer ORDER BY age LIMIT 1",
        "wrong_result",
    ) == ["wrong_order_limit"]
    # Aliases, qualifiers, case and an ON join written as a WHERE join are not differences.
    same = classify(
        "select s.Name from SINGER s, singer_in_concert c where s.singer_id = c.singer_id",
        "SELECT T2.name FROM singer_in_concert AS T1 JOIN singer AS T2 ON T1.singer_id = T2.singer_id",
        "wrong_result",
    )
    assert same == ["other"]


def test_spider_double_quoted_strings_are_literals():
    # Spider's "France" and the model's 'France' are the same literal...
    assert classify(
        "SELECT name FROM singer WHERE country = 'France'",
        'SELECT name FROM singer WHERE country = "France"',
        "wrong_result",
    ) == ["other"]
    # ...unless the double-quoted name is a column, as SQLite would resolve it: from the schema
    # when known, else from the names the queries use unquoted.
    pred, gold = 'SELECT name FROM singer WHERE country = "nation"', "SELECT name FROM singer WHERE country = 'nation'"
    assert classify(pred, gold, "wrong_result") == ["other"]
    assert "wrong_literals" in classify(pred, gold, "wrong_result", known_names={"nation"})
    # Here gold uses `nation` as a column, so the prediction's "nation" is that column too.
    assert classify(pred, "SELECT name FROM singer WHERE country = nation", "wrong_result") == ["other"]


def test_several_categories_and_the_fallbacks():
    both = classify(
        "SELECT max(age) FROM singer", "SELECT avg(age) FROM singer WHERE country = 'France'", "wrong_result"
    )
    assert {"wrong_aggregation", "wrong_condition", "wrong_literals"} <= set(both)
    assert both == sorted(both, key=list(CATEGORIES).index)
    assert classify("", "SELECT 1", None) == ["empty_output"]
    # Runs in SQLite but sqlglot cannot read it: still classified, as "other".
    assert classify("SELECT a FROM t WHERE ((", "SELECT a FROM t", "wrong_result") == ["other"]
    assert classify("SELECT a FROM t", "SELECT a FROM t", "wrong_result") == ["other"]
    assert parse_sql("SELECT 1; SELECT 2") is None and parse_sql("<script>alert(1)</script>") is None


def test_schema_names_read_from_tables_json(tmp_path):
    (tmp_path / "tables.json").write_text(
        '[{"db_id": "x", "table_names_original": ["Singer"], "column_names_original": [[-1, "*"], [0, "Name"]]}]'
    )
    assert schema_names(tmp_path) == {"x": {"singer", "name"}}
    assert schema_names(tmp_path / "missing") == {} and schema_names(None) == {}


def test_analyze_and_flips_on_fixture_runs():
    runs = {r.label: r for r in load_runs(FIXTURES)}
    base, v1 = analyze(runs["base"]), analyze(runs["v1"], examples_per_category=1)
    assert base.failed == 4 and v1.failed == 3
    assert base.by_case["concert_singer-0003"] == ["syntax_error"]
    assert base.by_case["pets_1-0005"] == ["empty_output"]
    assert base.by_case["pets_1-0004"][0] == "timeout"
    assert v1.by_case["concert_singer-0003"] == ["wrong_aggregation"]
    assert {"missing_subquery", "missing_negation"} <= set(v1.by_case["pets_1-0004"])
    assert all(len(v) == 1 for v in v1.examples.values())
    assert sum(v1.counts.values()) == sum(len(c) for c in v1.by_case.values())
    fixed, broken = flips(runs["base"], runs["v1"], base, v1)
    assert [f.case_id for f in fixed] == ["concert_singer-0001", "pets_1-0005"]
    assert [f.case_id for f in broken] == ["concert_singer-0002"]
    assert broken[0].categories == ["wrong_literals"] and "<script>" in broken[0].new_prediction
    assert fixed[1].categories == ["empty_output"]  # the base model's reason
