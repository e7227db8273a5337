"""Result comparison: test-suite semantics, the set variant, ORDER BY detection."""

from __future__ import annotations

import itertools
import random
import time
from collections import Counter

import pytest

from metrics.result_match import (
    gold_orders_rows,
    is_vacuous,
    results_match,
    set_match,
    short_diff,
)

# (name, gold, pred, order_matters, expected results_match, expected set_match)
PAIRS = [
    ("identical", [(1, "a"), (2, "b")], [(1, "a"), (2, "b")], False, True, True),
    ("row order ignored", [(1,), (2,)], [(2,), (1,)], False, True, True),
    ("row order enforced", [(1,), (2,)], [(2,), (1,)], True, False, True),
    ("order kept", [(1,), (2,)], [(1,), (2,)], True, True, True),
    ("duplicates are a multiset", [(1,), (1,), (2,)], [(1,), (2,), (2,)], False, False, True),
    ("missing duplicate", [(1,), (1,)], [(1,)], False, False, True),
    ("duplicates same count", [(1,), (1,), (2,)], [(2,), (1,), (1,)], False, True, True),
    ("columns permuted", [(1, "a"), (2, "b")], [("a", 1), ("b", 2)], False, True, False),
    ("columns permuted, ordered", [(1, "a"), (2, "b")], [("a", 1), ("b", 2)], True, True, False),
    ("permuted but ordered wrong", [(1, "a"), (2, "b")], [("b", 2), ("a", 1)], True, False, False),
    ("extra column", [(1,)], [(1, 1)], False, False, False),
    ("fewer rows", [(1,), (2,)], [(1,)], False, False, False),
    ("NULL equals NULL", [(None, 1)], [(None, 1)], False, True, True),
    ("NULL is not 0", [(None,)], [(0,)], False, False, False),
    ("NULL is not ''", [(None,)], [("",)], False, False, False),
    ("int equals float", [(1,)], [(1.0,)], False, True, True),
    ("int equals float, ordered", [(1, 2.5)], [(1.0, 2.5)], True, True, True),
    ("float differs", [(1,)], [(1.0000001,)], False, False, False),
    ("text is not number", [("1",)], [(1,)], False, False, False),
    ("both empty", [], [], False, True, True),
    ("both empty, ordered", [], [], True, True, True),
    ("gold empty only", [], [(1,)], False, False, False),
    ("pred empty only", [(1,)], [], False, False, False),
    ("same values, rows re-paired", [(1, "a"), (2, "b")], [(1, "b"), (2, "a")], False, False, False),
]


@pytest.mark.parametrize(
    ("gold", "pred", "order", "expected", "expected_set"),
    [p[1:] for p in PAIRS],
    ids=[p[0] for p in PAIRS],
)
def test_results_match_table(gold, pred, order, expected, expected_set):
    assert results_match(gold, pred, order) is expected
    assert set_match(gold, pred) is expected_set


def test_set_variant_ignores_duplicates_but_not_columns():
    assert set_match([(1,), (1,), (2,)], [(1,), (2,)])
    assert not results_match([(1,), (1,), (2,)], [(1,), (2,)], False)
    assert not set_match([(1, 2)], [(2, 1)])
    assert results_match([(1, 2)], [(2, 1)], False)


def test_is_vacuous_only_when_both_empty():
    assert is_vacuous([], [])
    assert not is_vacuous([], [(1,)])
    assert not is_vacuous([(None,)], [])


def test_permutation_needs_consistent_mapping_across_rows():
    gold = [(1, 2, 3), (4, 5, 6)]
    assert results_match(gold, [(3, 1, 2), (6, 4, 5)], False)
    # every value appears in some gold column, but no single permutation fits
    assert not results_match(gold, [(3, 1, 2), (4, 5, 6)], False)


def test_wide_identical_columns_do_not_explode():
    gold = [tuple([None] * 12 + [i]) for i in range(50)]
    pred = [tuple([i] + [None] * 12) for i in range(50)]
    assert results_match(gold, pred, True)
    assert not results_match(gold, pred[::-1], True)
    assert results_match(gold, pred[::-1], False)


def _reference(gold, pred, order_matters):
    """Brute force over every column permutation (the definition)."""
    if not gold and not pred:
        return True
    if len(gold) != len(pred) or len(gold[0]) != len(pred[0]):
        return False
    for perm in itertools.permutations(range(len(gold[0]))):
        permuted = [tuple(row[j] for j in perm) for row in pred]
        if (permuted == gold) if order_matters else (Counter(permuted) == Counter(gold)):
            return True
    return False


def test_agrees_with_brute_force_on_random_tables():
    rng = random.Random(1234)
    checked = 0
    for _ in range(600):
        ncols, nrows = rng.randint(1, 4), rng.randint(1, 5)
        pool = [None, 0, 1, 1.0, 2, "a", "b"]
        gold = [tuple(rng.choice(pool) for _ in range(ncols)) for _ in range(nrows)]
        perm = rng.sample(range(ncols), ncols)
        pred = [tuple(row[j] for j in perm) for row in gold]
        if rng.random() < 0.5:
            rng.shuffle(pred)
        if rng.random() < 0.5:  # mutate one cell
            r, c = rng.randrange(nrows), rng.randrange(ncols)
            row = list(pred[r])
            row[c] = rng.choice(pool)
            pred[r] = tuple(row)
        for order in (False, True):
            assert results_match(gold, pred, order) == _reference(gold, pred, order), (gold, pred, order)
            checked += 1
    assert checked == 1200


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT name FROM singer ORDER BY age DESC", True),
        ("select name from singer order by age limit 1", True),
        ("SELECT name FROM singer", False),
        ("SELECT name FROM (SELECT name FROM singer ORDER BY age) AS t", False),
        ("SELECT name FROM singer WHERE age > (SELECT age FROM s ORDER BY age LIMIT 1)", False),
        ("SELECT a FROM t UNION SELECT b FROM u ORDER BY a", True),
        ("SELECT a FROM t EXCEPT SELECT a FROM u", False),
        ('SELECT name FROM singer WHERE note = "order by"', False),
        ("WITH x AS (SELECT 1 AS a) SELECT a FROM x ORDER BY a", True),
        ("SELECT name FROM singer ORDER\n  BY age", True),
        ("SELECT T1.name FROM singer AS T1 JOIN concert AS T2 ORDER BY T2.year", True),
    ],
)
def test_gold_orders_rows(sql, expected):
    assert gold_orders_rows(sql) is expected


def test_gold_orders_rows_falls_back_on_unparseable_sql():
    assert gold_orders_rows("SELECT ((( order by x") is True
    assert gold_orders_rows("SELECT ((( order x") is False


def test_short_diff_reports_counts_and_rows():
    text = short_diff([(1, "a"), (2, "b")], [(1, "a"), (3, "c"), (4, "d")])
    assert "gold 2 rows x 2 cols, pred 3 rows x 2 cols" in text
    assert "missing [(2, 'b')]" in text
    assert "(3, 'c')" in text and "(4, 'd')" in text


def test_short_diff_limits_rows_and_mentions_order():
    gold = [(i,) for i in range(10)]
    assert "+7 more" in short_diff(gold, [], limit=3)
    assert "different order" in short_diff([(1,), (2,)], [(2,), (1,)])


def _small_domain_rows(n: int, ncols: int) -> list[tuple]:
    """Rows whose columns share one small domain, so column sets alone cannot tell them apart."""
    return [tuple((i * (c + 3) // 7 + c) % 4 for c in range(ncols)) for i in range(n)]


def test_column_search_stops_at_its_deadline():
    from metrics.result_match import MatchTimeout

    gold = _small_domain_rows(2_000, 8)
    pred = [row[::-1] for row in gold]  # the columns reversed: the identity permutation fails
    assert results_match(gold, pred, order_matters=False)  # without a deadline: found
    with pytest.raises(MatchTimeout):
        results_match(gold, pred, order_matters=False, deadline=time.monotonic() - 1.0)
    # the common cases never search, so a deadline cannot cost them their verdict
    assert results_match(gold, list(gold), order_matters=False, deadline=time.monotonic() - 1.0)
    assert not results_match(gold, gold[:-1], order_matters=False, deadline=time.monotonic() - 1.0)


def test_candidates_are_pruned_by_column_multisets():
    from metrics.result_match import _candidates

    gold = [(1, 1), (1, 2), (2, 2)]  # column 0 holds {1: 2, 2: 1}, column 1 {1: 1, 2: 2}
    pred = [(1, 1), (2, 1), (2, 2)]  # the same value sets, other multisets
    assert _candidates(gold, pred, 2) == [[1], [0]]
    assert results_match(gold, pred, order_matters=False)  # the swapped columns do match


def test_a_comparison_past_the_case_budget_is_a_timeout(tmp_path):
    import sqlite3

    from deepeval.test_case import LLMTestCase

    from metrics import ExecutionAccuracy, QueryLimits

    db = tmp_path / "wide.sqlite"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE t(" + ", ".join(f"c{i} INTEGER" for i in range(8)) + ")")
    conn.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?, ?)", _small_domain_rows(2_000, 8))
    conn.commit()
    conn.close()
    columns = [f"c{i}" for i in range(8)]
    gold, pred = f"SELECT {', '.join(columns)} FROM t", f"SELECT {', '.join(reversed(columns))} FROM t"
    metric = ExecutionAccuracy(db_path=db, limits=QueryLimits(timeout_s=1e-6))
    metric.measure(LLMTestCase(input="q", actual_output=pred, expected_output=gold))
    # the query itself or the column search runs out of the budget; either way a timeout
    assert metric.score == 0.0 and metric.failure == "timeout", metric.reason
    relaxed = ExecutionAccuracy(db_path=db, limits=QueryLimits(timeout_s=60.0))
    assert relaxed.measure(LLMTestCase(input="q", actual_output=pred, expected_output=gold)) == 1.0
