"""Spider execution accuracy as a deepeval metric.

A prediction scores 1 when its result on the database equals the gold
query's result under the test-suite evaluator's rules (column permutation,
multiset rows, row order only when the gold query orders). Everything else
-- no SQL, broken SQL, hostile SQL, timeouts, wrong rows -- scores 0 with a
reason. A gold query that fails is a dataset bug, so it raises
`GoldQueryError` instead of being charged to the model.

Use one instance per test case (deepeval copies metrics per case); the
expensive state -- open connections and gold results -- lives in
process-wide caches, so fresh instances are cheap.
"""

from __future__ import annotations

import threading
from pathlib import Path

from deepeval.metrics import BaseMetric
from deepeval.test_case import LLMTestCase

from metrics.result_match import (
    gold_orders_rows,
    is_vacuous,
    results_match,
    set_match,
    short_diff,
)
from metrics.sandbox import QueryLimits, sandbox_for
from metrics.sql_extract import extract_sql

__all__ = ["ExecutionAccuracy", "GoldQueryError"]


class GoldQueryError(Exception):
    """The gold query (or its database) cannot produce a result: a dataset
    error, never a model error."""


_GOLD_CACHE: dict[tuple[str, str], list[tuple]] = {}
_GOLD_LOCK = threading.Lock()


def _gold_rows(db_path: Path, gold_sql: str, limits: QueryLimits) -> list[tuple]:
    """Gold results, computed once per (database, gold SQL) per process."""
    key = (str(db_path), gold_sql)
    with _GOLD_LOCK:
        cached = _GOLD_CACHE.get(key)
    if cached is not None:
        return cached
    try:
        box = sandbox_for(db_path, limits)
    except (OSError, ValueError) as exc:
        raise GoldQueryError(f"cannot open database {db_path}: {exc}") from exc
    result = box.run(gold_sql)
    if result.failure is not None:
        raise GoldQueryError(
            f"gold query failed on {db_path.name} ({result.message}); this is a dataset "
            f"error, not a model error. Gold SQL: {gold_sql}"
        )
    with _GOLD_LOCK:
        _GOLD_CACHE[key] = result.rows
    return result.rows


class ExecutionAccuracy(BaseMetric):
    """1.0 when the predicted SQL returns the gold result, else 0.0."""

    def __init__(
        self,
        db_path: str | Path | None = None,
        threshold: float = 1.0,
        limits: QueryLimits = QueryLimits(),
    ) -> None:
        self.db_path = db_path
        self.threshold = threshold
        self.limits = limits
        self.include_reason = True
        self.async_mode = True
        self.predicted_sql: str = ""
        self.failure: str | None = None
        self.vacuous: bool = False
        self.set_match: bool = False
        self.order_matters: bool = False

    def measure(
        self,
        test_case: LLMTestCase,
        _show_indicator: bool = True,
        _in_component: bool = False,
        *args: object,
        **kwargs: object,
    ) -> float:
        return _score(self, test_case)

    async def a_measure(
        self,
        test_case: LLMTestCase,
        _show_indicator: bool = True,
        _in_component: bool = False,
        *args: object,
        **kwargs: object,
    ) -> float:
        # SQLite work is CPU-bound and bounded by the timeout; running it
        # inline keeps the per-connection lock uncontended.
        return _score(self, test_case)

    def is_successful(self) -> bool:
        if self.error is not None or self.score is None:
            self.success = False
        else:
            self.success = self.score >= self.threshold
        return self.success

    @property
    def __name__(self) -> str:
        return "Execution Accuracy"


def _resolve_db(metric: ExecutionAccuracy, test_case: LLMTestCase) -> Path:
    meta = test_case.metadata or {}
    db_path = metric.db_path if metric.db_path is not None else meta.get("db_path")
    if db_path is None:
        raise GoldQueryError(
            "no database: pass ExecutionAccuracy(db_path=...) or set "
            "metadata['db_path'] on the test case"
        )
    return Path(db_path)


def _score(metric: ExecutionAccuracy, test_case: LLMTestCase) -> float:
    """Score one test case and fill the metric's result attributes.

    Module-level so deepeval's per-method tracing wraps only measure/a_measure.
    """
    metric.error = None
    metric.vacuous = False
    metric.set_match = False
    gold_sql = (test_case.expected_output or "").strip()
    if not gold_sql:
        raise GoldQueryError("test case has no expected_output (gold SQL)")
    db_path = _resolve_db(metric, test_case).resolve()
    gold = _gold_rows(db_path, gold_sql, metric.limits)
    metric.order_matters = gold_orders_rows(gold_sql)
    metric.predicted_sql = extract_sql(test_case.actual_output or "")
    if not metric.predicted_sql:
        return _finish(metric, 0.0, "empty_output", "empty output: no SQL query found in the model output")

    result = sandbox_for(db_path, metric.limits).run(metric.predicted_sql)
    if result.failure is not None:
        return _finish(metric, 0.0, result.failure, result.message)

    pred = result.rows
    metric.set_match = set_match(gold, pred)
    if results_match(gold, pred, metric.order_matters):
        metric.vacuous = is_vacuous(gold, pred)
        n = len(gold)
        reason = "vacuous match: both results empty" if metric.vacuous else f"match ({n} row{'' if n == 1 else 's'})"
        return _finish(metric, 1.0, None, reason)
    order = " (row order matters: gold has ORDER BY)" if metric.order_matters else ""
    return _finish(metric, 0.0, "wrong_result", f"wrong result{order}: {short_diff(gold, pred)}")


def _finish(metric: ExecutionAccuracy, score: float, failure: str | None, reason: str) -> float:
    metric.score = score
    metric.failure = failure
    metric.reason = reason
    metric.is_successful()
    return score
