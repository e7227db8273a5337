"""Spider hardness levels, including the official evaluator's quirks."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest

from metrics.hardness import spider_hardness

REPO = Path(__file__).resolve().parents[2]
NONE, MAX, MIN, COUNT, SUM, AVG = range(6)  # evaluation.py AGG_OPS
EQ, LIKE = 2, 9  # evaluation.py WHERE_OPS indexes


def col(col_id: int = 1, agg: int = NONE) -> list:
    return [agg, col_id, False]


def val(col_id: int = 1, agg: int = NONE) -> list:
    return [0, col(col_id, agg), None]


def cond(col_id: int = 1, op: int = EQ, value=1.0, negated: bool = False, agg: int = NONE) -> list:
    return [negated, op, val(col_id, agg), value, None]


def query(
    select: list | None = None,
    tables: int = 1,
    where: list | None = None,
    group: list | None = None,
    having: list | None = None,
    order: list | None = None,
    limit: int | None = None,
    **set_ops,
) -> dict:
    return {
        "select": [False, select if select is not None else [[NONE, val()]]],
        "from": {
            "table_units": [["table_unit", i] for i in range(tables)],
            "conds": [],
        },
        "where": where or [],
        "groupBy": group or [],
        "having": having or [],
        "orderBy": ["asc", order] if order else [],
        "limit": limit,
        "intersect": set_ops.get("intersect"),
        "except": set_ops.get("except"),
        "union": set_ops.get("union"),
    }


CASES = [
    ("one column", query(), "easy"),
    ("count star", query(select=[[COUNT, val(0)]]), "easy"),
    ("one where", query(where=[cond()]), "easy"),
    ("two columns", query(select=[[NONE, val(1)], [NONE, val(2)]]), "medium"),
    ("join of two", query(tables=2, where=[cond()]), "medium"),
    ("where + order", query(where=[cond()], order=[val()]), "medium"),
    ("where and where", query(where=[cond(), "and", cond(2)]), "medium"),
    ("three components", query(where=[cond()], group=[col()], order=[val()]), "hard"),
    ("like and or count as components", query(where=[cond(op=LIKE), "or", cond(2)]), "hard"),
    ("four components", query(where=[cond()], group=[col()], order=[val()], limit=1), "extra"),
    ("nested in where", query(where=[cond(value=query())]), "hard"),
    ("union", query(union=query()), "hard"),
    ("union plus two columns", query(select=[[NONE, val(1)], [NONE, val(2)]], union=query()), "extra"),
    ("two nested", query(where=[cond(value=query()), "and", cond(2, value=query())]), "extra"),
    ("subquery in FROM is not nested", {**query(), "from": {"table_units": [["sql", query()]], "conds": []}}, "easy"),
    # count_agg(where[::2]) looks at unit[0], the NOT flag of a cond_unit:
    ("NOT counts as an aggregation", query(select=[[COUNT, val(0)]], where=[cond(negated=True)]), "medium"),
    ("plain condition is no aggregation", query(select=[[COUNT, val(0)]], where=[cond()]), "easy"),
    # count_agg(having) runs over the 'and'/'or' strings too:
    (
        "HAVING connector counts as an aggregation",
        query(select=[[COUNT, val(0)]], group=[col()], having=[cond(agg=COUNT), "and", cond(agg=SUM)]),
        "medium",
    ),
    ("single HAVING", query(select=[[COUNT, val(0)]], group=[col()], having=[cond(agg=COUNT)]), "easy"),
    ("ORDER BY aggregate counts", query(select=[[COUNT, val(0)]], order=[val(1, MAX)]), "medium"),
]


@pytest.mark.parametrize(("sql", "level"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_hand_made(sql, level):
    assert spider_hardness(sql) == level


def test_real_dev_distribution_matches_published_counts():
    dev = (REPO / os.environ.get("SPIDER_DIR", "../shared/data/spider")).resolve() / "dev.json"
    if not dev.is_file():
        pytest.skip(f"Spider data not found at {dev.parent} (set SPIDER_DIR)")
    counts = Counter(spider_hardness(ex["sql"]) for ex in json.loads(dev.read_text()))
    assert counts == {"easy": 248, "medium": 446, "hard": 174, "extra": 166}
