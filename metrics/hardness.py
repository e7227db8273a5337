"""Spider's difficulty levels (easy / medium / hard / extra).

Re-implements `Evaluator.eval_hardness` from the official Spider
evaluation.py on the parsed `sql` dict of dev.json, including its quirks, so
that per-level accuracies are comparable with published numbers:

* `count_agg` is applied to WHERE cond_units, whose first field is the NOT
  flag, not an aggregation id; a negated condition therefore counts as an
  aggregation;
* it is applied to the whole HAVING list, so the 'and'/'or' connector
  strings (first character != 0) count as aggregations too;
* "more than one WHERE condition" tests the list length, connectors included.

Parsed-SQL layout (from evaluation.py):
  cond_unit: (not_op, op_id, val_unit, val1, val2)
  condition: [cond_unit, 'and'/'or', cond_unit, ...]
  val_unit:  (unit_op, col_unit1, col_unit2)
  col_unit:  (agg_id, col_id, is_distinct)
"""

from __future__ import annotations

from typing import Any

__all__ = ["spider_hardness"]

_WHERE_OP_LIKE = 9  # index of 'like' in evaluation.py's WHERE_OPS


def _has_agg(unit: Any) -> bool:
    # Mirrors `unit[0] != AGG_OPS.index('none')`: booleans and strings count.
    return unit[0] != 0


def _count_agg(units: list[Any]) -> int:
    return sum(1 for unit in units if _has_agg(unit))


def _conditions(sql: dict) -> tuple[list[Any], list[Any]]:
    """All cond_units and all 'and'/'or' connectors of FROM, WHERE, HAVING."""
    units = sql["from"]["conds"][::2] + sql["where"][::2] + sql["having"][::2]
    connectors = sql["from"]["conds"][1::2] + sql["where"][1::2] + sql["having"][1::2]
    return units, connectors


def _count_component1(sql: dict) -> int:
    count = sum(
        [
            len(sql["where"]) > 0,
            len(sql["groupBy"]) > 0,
            len(sql["orderBy"]) > 0,
            sql["limit"] is not None,
        ]
    )
    if sql["from"]["table_units"]:
        count += len(sql["from"]["table_units"]) - 1  # joins
    units, connectors = _conditions(sql)
    count += sum(1 for token in connectors if token == "or")
    count += sum(1 for unit in units if unit[1] == _WHERE_OP_LIKE)
    return count


def _count_component2(sql: dict) -> int:
    """Nested queries: subqueries used as condition values, plus set ops.

    Subqueries in FROM are not counted, as in the official code.
    """
    units, _ = _conditions(sql)
    nested = sum(isinstance(unit[3], dict) + isinstance(unit[4], dict) for unit in units)
    nested += sum(sql[op] is not None for op in ("intersect", "except", "union"))
    return nested


def _count_others(sql: dict) -> int:
    agg = _count_agg(sql["select"][1])
    agg += _count_agg(sql["where"][::2])
    agg += _count_agg(sql["groupBy"])
    if sql["orderBy"]:
        val_units = sql["orderBy"][1]
        agg += _count_agg([vu[1] for vu in val_units if vu[1]] + [vu[2] for vu in val_units if vu[2]])
    agg += _count_agg(sql["having"])
    return sum(
        [
            agg > 1,
            len(sql["select"][1]) > 1,
            len(sql["where"]) > 1,
            len(sql["groupBy"]) > 1,
        ]
    )


# The official levels, easiest first; "unknown" is a case without a parse (reports only).
LEVELS: tuple[str, ...] = ("easy", "medium", "hard", "extra")
REPORT_LEVELS: tuple[str, ...] = (*LEVELS, "unknown")


def spider_hardness(sql: dict) -> str:
    """Difficulty level of a parsed Spider query: easy, medium, hard or extra."""
    c1 = _count_component1(sql)
    c2 = _count_component2(sql)
    others = _count_others(sql)
    if c1 <= 1 and others == 0 and c2 == 0:
        return "easy"
    if (others <= 2 and c1 <= 1 and c2 == 0) or (c1 <= 2 and others < 2 and c2 == 0):
        return "medium"
    if (
        (others > 2 and c1 <= 2 and c2 == 0)
        or (2 < c1 <= 3 and others <= 2 and c2 == 0)
        or (c1 <= 1 and others == 0 and c2 <= 1)
    ):
        return "hard"
    return "extra"
