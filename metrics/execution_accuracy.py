"""Spider execution accuracy as a deepeval metric, in three declared variants.

The headline verdict (`score`, `success`) is the official Spider test-suite evaluator's, case
by case (`metrics.official`): DISTINCT removed and its text fixes applied to both queries,
result multisets compared up to column order, row order only when the gold text contains
"order by", on every database in the case's folder. `strict` runs both queries as written
and checks row order only for an outermost ORDER BY; `set` is the reference study's
set equality. Each case records all three (`metrics.spider_variants.VARIANTS` defines them).

Only the first statement of an answer is scored; whether more followed is a diagnostic
(`more_statements`). No SQL, broken SQL, hostile SQL, timeouts and wrong rows score 0 with a
reason. Gold queries run under generous limits of their own (`gold_limits`), never the
prediction's: a gold query that fails is a dataset fault, raised as `GoldQueryError`, never
charged to the model and never a verdict that depends on how loaded the machine is.

Use one instance per test case (deepeval copies metrics per case); the expensive state --
open connections and gold results -- lives in process-wide caches, so fresh instances are
cheap.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

from deepeval.metrics import BaseMetric
from deepeval.test_case import LLMTestCase

from metrics.official import database_files, official_gold, official_orders_rows, official_prediction
from metrics.result_match import (
    MatchTimeout,
    gold_orders_rows,
    is_vacuous,
    results_match,
    set_match,
    short_diff,
)
from metrics.sandbox import QueryLimits, QueryResult, sandbox_for
from metrics.sql_extract import extract

__all__ = ["ExecutionAccuracy", "GoldQueryError", "gold_limits"]

DEFAULT_LIMITS = QueryLimits()
GOLD_MIN_TIMEOUT_S = 60.0  # the official evaluator's nominal timeout
GOLD_FACTOR = 10
GOLD_MIN_ROWS = 1_000_000  # a small --max-rows must never make a gold query a "data fault"


class GoldQueryError(Exception):
    """The gold query (or its database) cannot produce a result: a dataset
    error, never a model error."""


def gold_limits(limits: QueryLimits) -> QueryLimits:
    """A gold query's limits: far above the prediction's, so load never decides a verdict."""
    return replace(
        limits,
        timeout_s=max(GOLD_MIN_TIMEOUT_S, GOLD_FACTOR * limits.timeout_s),
        max_rows=max(GOLD_MIN_ROWS, GOLD_FACTOR * limits.max_rows),
    )


_GOLD_CACHE: dict[tuple[str, str, QueryLimits], list[tuple]] = {}
_GOLD_LOCK = threading.Lock()


def _gold_rows(db_path: Path, gold_sql: str, limits: QueryLimits) -> list[tuple]:
    """Gold results, computed once per (database, gold SQL) per process."""
    key = (str(db_path), gold_sql, limits)
    with _GOLD_LOCK:
        cached = _GOLD_CACHE.get(key)
    if cached is not None:
        return cached
    try:
        box = sandbox_for(db_path, limits)
    except (OSError, ValueError) as exc:
        raise GoldQueryError(f"cannot open database {db_path}: {exc}") from exc
    result = box.run(gold_sql)
    if result.failure is not None or result.rows is None:
        raise GoldQueryError(
            f"gold query failed on {db_path.name} ({result.message}); this is a dataset "
            f"error, not a model error. Gold SQL: {gold_sql}"
        )
    with _GOLD_LOCK:
        _GOLD_CACHE[key] = result.rows
    return result.rows


@dataclass(frozen=True)
class Verdict:
    """One variant's outcome for one case."""

    passed: bool
    failure: str | None
    reason: str
    vacuous: bool = False


class ExecutionAccuracy(BaseMetric):
    """1.0 when the predicted SQL returns the gold result (official conventions), else 0.0."""

    def __init__(
        self,
        db_path: str | Path | None = None,
        threshold: float = 1.0,
        limits: QueryLimits = DEFAULT_LIMITS,
    ) -> None:
        self.db_path = db_path
        self.threshold = threshold
        self.limits = limits
        self.include_reason = True
        self.async_mode = True
        self.predicted_sql: str = ""
        self.failure: str | None = None
        self.vacuous: bool = False
        self.strict_match: bool = False
        self.strict_failure: str | None = None
        self.set_match: bool = False
        self.order_matters: bool = False
        self.more_statements: bool = False
        self.databases: int = 0
        # the first rows of the gold result and of the prediction's (None: it gave none)
        self.gold_head: list[list[str]] | None = None
        self.predicted_head: list[list[str]] | None = None

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
            self.success = self.score >= (self.threshold or 0.0)
        return bool(self.success)

    @property
    def verdicts(self) -> dict[str, bool]:
        """Every variant's verdict for the last case measured, keyed as in VARIANTS."""
        return {"official": bool(self.score), "strict": self.strict_match, "set": self.set_match}

    @property
    def __name__(self) -> str:
        return "Execution Accuracy"


def _resolve_db(metric: ExecutionAccuracy, test_case: LLMTestCase) -> Path:
    meta = test_case.metadata or {}
    db_path = metric.db_path if metric.db_path is not None else meta.get("db_path")
    if db_path is None:
        raise GoldQueryError(
            "no database: pass ExecutionAccuracy(db_path=...) or set metadata['db_path'] on the test case"
        )
    return Path(db_path)


class _Runner:
    """Runs one case's predicted texts, each at most once per database."""

    def __init__(self, limits: QueryLimits) -> None:
        self.limits = limits
        self.results: dict[tuple[Path, str], QueryResult] = {}

    def run(self, db: Path, sql: str) -> QueryResult:
        key = (db, sql)
        if key not in self.results:
            self.results[key] = sandbox_for(db, self.limits).run(sql)
        return self.results[key]


def _verdict(runner: _Runner, dbs: list[Path], golds: list[list[tuple]], pred_sql: str, order_matters: bool) -> Verdict:
    """Pass only if the prediction matches the gold result on every database."""
    vacuous = True
    for db, gold in zip(dbs, golds):
        result = runner.run(db, pred_sql)
        if result.failure is not None or result.rows is None:
            return Verdict(False, result.failure, result.message)
        # The comparison shares the query's time budget: a hostile result cannot stall the run.
        deadline = time.monotonic() + max(0.0, runner.limits.timeout_s - result.elapsed_s)
        try:
            same = results_match(gold, result.rows, order_matters, deadline)
        except MatchTimeout:
            return Verdict(
                False, "timeout", f"timeout: comparing the results took longer than {runner.limits.timeout_s:g} s"
            )
        if not same:
            where = f" on {db.name}" if len(dbs) > 1 else ""
            order = " (row order matters: gold orders its rows)" if order_matters else ""
            return Verdict(False, "wrong_result", f"wrong result{where}{order}: {short_diff(gold, result.rows)}")
        vacuous = vacuous and is_vacuous(gold, result.rows)
    n = len(golds[0])
    if vacuous:
        reason = "vacuous match: both results empty"
    else:
        reason = f"match ({n} row{'' if n == 1 else 's'}" + (f", on all {len(dbs)} databases)" if len(dbs) > 1 else ")")
    return Verdict(True, None, reason, vacuous)


def _score(metric: ExecutionAccuracy, test_case: LLMTestCase) -> float:
    """Score one test case and fill the metric's result attributes.

    Module-level so deepeval's per-method tracing wraps only measure/a_measure.
    """
    metric.error = None
    metric.vacuous = metric.set_match = metric.strict_match = metric.more_statements = False
    metric.strict_failure = None
    metric.gold_head = metric.predicted_head = None
    gold_sql = (test_case.expected_output or "").strip()
    if not gold_sql:
        raise GoldQueryError("test case has no expected_output (gold SQL)")
    db_path = _resolve_db(metric, test_case).resolve()
    try:
        dbs = database_files(db_path)
    except OSError as exc:
        raise GoldQueryError(f"cannot open database {db_path}: {exc}") from exc
    metric.databases = len(dbs)
    glimits = gold_limits(metric.limits)
    gold_texts = {"official": official_gold(gold_sql), "strict": gold_sql}
    # Gold first, on every database: a gold failure is a dataset fault whatever the model said.
    golds = {v: [_gold_rows(db, text, glimits) for db in dbs] for v, text in gold_texts.items()}
    metric.order_matters = official_orders_rows(gold_texts["official"])
    metric.gold_head = head_rows(golds["strict"][0])
    extracted = extract(test_case.actual_output or "")
    metric.predicted_sql, metric.more_statements = extracted.sql, extracted.more_statements
    if not metric.predicted_sql:
        metric.strict_failure = "empty_output"
        return _finish(metric, Verdict(False, "empty_output", "empty output: no SQL query found in the model output"))

    runner = _Runner(metric.limits)
    strict = _verdict(runner, dbs, golds["strict"], metric.predicted_sql, gold_orders_rows(gold_sql))
    metric.strict_match, metric.strict_failure = strict.passed, strict.failure
    first = runner.run(dbs[0], metric.predicted_sql)
    metric.predicted_head = None if first.rows is None else head_rows(first.rows)
    metric.set_match = first.rows is not None and set_match(golds["strict"][0], first.rows)
    pred_official = official_prediction(metric.predicted_sql)
    if (
        pred_official == metric.predicted_sql
        and gold_texts["official"] == gold_sql
        and metric.order_matters == gold_orders_rows(gold_sql)
    ):
        return _finish(metric, strict)  # the same queries and rule: the same verdict, computed once
    official = _verdict(runner, dbs, golds["official"], pred_official, metric.order_matters)
    return _finish(metric, official)


HEAD_ROWS, HEAD_CELL = 3, 80  # what a report shows of a result: enough to see why it differs


def head_rows(rows: list[tuple]) -> list[list[str]]:
    """The first rows of a result, each value as short text (JSON-safe, bounded in size)."""
    return [[_short(repr(v)) for v in row] for row in rows[:HEAD_ROWS]]


def _short(text: str) -> str:
    return text if len(text) <= HEAD_CELL else text[:HEAD_CELL] + "…"


def _finish(metric: ExecutionAccuracy, verdict: Verdict) -> float:
    metric.score = 1.0 if verdict.passed else 0.0
    metric.failure = verdict.failure
    metric.reason = verdict.reason
    metric.vacuous = verdict.vacuous
    metric.is_successful()
    return metric.score
