"""Compare two SQL result sets the way Spider's test-suite evaluator does.

Semantics follow `result_eq` in taoyds/test-suite-sql-eval (exec_eval.py),
re-implemented from its description:

* two empty results match (a "vacuous" match, reported separately);
* different row or column counts never match;
* a quick reject compares rows with their values sorted, so cheap mismatches
  exit before the permutation search;
* the prediction may return the gold columns in any order: we search column
  permutations and accept one that makes the rows equal in order (when the
  gold query orders its rows) or equal as multisets (otherwise).

Where the official code samples 20 random rows to prune permutations, we
prune with whole columns (a gold column can only map to a prediction column
with the same multiset of values) and with each partial assignment, so the
answer is exactly "does some column permutation match", never random. The
search is exponential in the worst case, so it runs against a deadline and
raises `MatchTimeout` past it: a hostile result cannot stall a run.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import sqlglot
from sqlglot import exp

Row = tuple[Any, ...]

__all__ = [
    "MatchTimeout",
    "results_match",
    "set_match",
    "is_vacuous",
    "gold_orders_rows",
    "short_diff",
]


class MatchTimeout(Exception):
    """The column-permutation search ran past its deadline."""


def _check(deadline: float | None) -> None:
    if deadline is not None and time.monotonic() > deadline:
        raise MatchTimeout("comparing the results ran past the time budget")


def is_vacuous(gold_rows: Sequence[Row], pred_rows: Sequence[Row]) -> bool:
    """True when both results are empty: such a match says nothing about the
    prediction, so callers count it separately."""
    return len(gold_rows) == 0 and len(pred_rows) == 0


def _sort_key(value: Any) -> str:
    # Keys mix values and types so that sorting never compares across types.
    return str(value) + str(type(value))


def _unordered_row(row: Row) -> Row:
    return tuple(sorted(row, key=_sort_key))


def _quick_reject(gold: Sequence[Row], pred: Sequence[Row], order_matters: bool) -> bool:
    """True when no column permutation can possibly make the results equal."""
    g = [_unordered_row(r) for r in gold]
    p = [_unordered_row(r) for r in pred]
    if order_matters:
        return g != p
    return set(g) != set(p)


def _candidates(gold: Sequence[Row], pred: Sequence[Row], ncols: int) -> list[list[int]]:
    """For each gold column, the pred columns with the same multiset of values (a necessary
    condition of equal row multisets, hence also of equal row sequences)."""
    gold_cols = [Counter(row[i] for row in gold) for i in range(ncols)]
    pred_cols = [Counter(row[j] for row in pred) for j in range(ncols)]
    return [[j for j in range(ncols) if pred_cols[j] == gold_cols[i]] for i in range(ncols)]


def _project(rows: Sequence[Row], cols: Sequence[int]) -> list[Row]:
    return [tuple(row[c] for c in cols) for row in rows]


def _prefix_ok(gold: Sequence[Row], pred: Sequence[Row], assigned: list[int], order_matters: bool) -> bool:
    """Necessary condition: the assigned columns already agree on their own."""
    g = _project(gold, range(len(assigned)))
    p = _project(pred, assigned)
    return g == p if order_matters else Counter(g) == Counter(p)


def _search(
    gold: Sequence[Row],
    pred: Sequence[Row],
    candidates: list[list[int]],
    order_matters: bool,
    deadline: float | None,
) -> bool:
    """Backtracking over injective gold->pred column maps.

    Pred columns with identical contents are interchangeable, so only the
    first unused one of each identical group is tried; this keeps wide
    results with repeated columns (e.g. all-NULL) from exploding.
    """
    ncols = len(candidates)
    col_vectors = [tuple(row[j] for row in pred) for j in range(ncols)]
    used = [False] * ncols
    assigned: list[int] = []

    def rec(i: int) -> bool:
        if i == ncols:
            return True
        _check(deadline)
        tried: set[tuple[Any, ...]] = set()
        for j in candidates[i]:
            if used[j] or col_vectors[j] in tried:
                continue
            tried.add(col_vectors[j])
            used[j] = True
            assigned.append(j)
            if _prefix_ok(gold, pred, assigned, order_matters) and rec(i + 1):
                return True
            assigned.pop()
            used[j] = False
        return False

    return rec(0)


def results_match(
    gold_rows: Sequence[Row], pred_rows: Sequence[Row], order_matters: bool, deadline: float | None = None
) -> bool:
    """Spider test-suite denotation equality (see module docstring).

    `deadline` is a `time.monotonic()` value; past it the search raises `MatchTimeout`.
    """
    gold = [tuple(r) for r in gold_rows]
    pred = [tuple(r) for r in pred_rows]
    if not gold and not pred:
        return True
    if len(gold) != len(pred):
        return False
    ncols = len(gold[0])
    if any(len(r) != ncols for r in pred) or any(len(r) != ncols for r in gold):
        return False
    if _quick_reject(gold, pred, order_matters):
        return False
    if (gold == pred) if order_matters else (Counter(gold) == Counter(pred)):
        return True  # identity permutation: the common case, no search needed
    _check(deadline)
    candidates = _candidates(gold, pred, ncols)
    if any(not c for c in candidates):
        return False
    return _search(gold, pred, candidates, order_matters, deadline)


def set_match(gold_rows: Sequence[Row], pred_rows: Sequence[Row]) -> bool:
    """The reference study's looser variant: equal as sets of rows, ignoring
    duplicates and row order, with no column permutation."""
    return {tuple(r) for r in gold_rows} == {tuple(r) for r in pred_rows}


_ORDER_WORD = re.compile(r"\border\b", re.IGNORECASE)


@lru_cache(maxsize=4096)
def gold_orders_rows(gold_sql: str) -> bool:
    """True when the gold query sorts its final result (top-level ORDER BY).

    An ORDER BY inside a subquery does not fix the order of the outer result,
    so only the outermost statement counts. When sqlglot cannot parse the
    query we fall back to the official evaluator's substring test.
    """
    if not _ORDER_WORD.search(gold_sql):
        return False  # cheap exit: most queries never mention ORDER
    try:
        tree = sqlglot.parse_one(gold_sql, dialect="sqlite")
    except Exception:  # sqlglot raises several error types on bad input
        return "order by" in gold_sql.lower()
    while isinstance(tree, (exp.Subquery, exp.Paren)) and not tree.args.get("order"):
        tree = tree.this
    return tree is not None and tree.args.get("order") is not None


def short_diff(gold_rows: Sequence[Row], pred_rows: Sequence[Row], limit: int = 3) -> str:
    """A one-line, human-readable summary of how two results differ."""
    gold = [tuple(r) for r in gold_rows]
    pred = [tuple(r) for r in pred_rows]
    gcols = len(gold[0]) if gold else 0
    pcols = len(pred[0]) if pred else 0
    parts = [f"gold {len(gold)} rows x {gcols} cols, pred {len(pred)} rows x {pcols} cols"]
    g, p = Counter(gold), Counter(pred)
    missing = list((g - p).elements())
    extra = list((p - g).elements())
    if missing:
        parts.append(f"missing {_show(missing, limit)}")
    if extra:
        parts.append(f"extra {_show(extra, limit)}")
    if not missing and not extra and gold != pred:
        parts.append("same rows in a different order")
    return "; ".join(parts)


def _show(rows: list[Row], limit: int) -> str:
    shown = ", ".join(_clip(repr(r)) for r in rows[:limit])
    more = len(rows) - limit
    return f"[{shown}{f', … +{more} more' if more > 0 else ''}]"


def _clip(text: str, width: int = 80) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
