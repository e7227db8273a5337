"""Scoring for the Spider text-to-SQL benchmark: sandboxed execution of
model SQL, test-suite result matching, SQL extraction and Spider hardness."""

from metrics.execution_accuracy import ExecutionAccuracy, GoldQueryError
from metrics.hardness import spider_hardness
from metrics.result_match import gold_orders_rows, is_vacuous, results_match, set_match
from metrics.sandbox import QueryLimits, QueryResult, Sandbox, sandbox_for
from metrics.sql_extract import extract_sql

__all__ = [
    "ExecutionAccuracy",
    "GoldQueryError",
    "QueryLimits",
    "QueryResult",
    "Sandbox",
    "sandbox_for",
    "extract_sql",
    "spider_hardness",
    "results_match",
    "set_match",
    "is_vacuous",
    "gold_orders_rows",
]
