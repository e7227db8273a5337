"""Scoring: Spider execution accuracy (sandboxed execution of model SQL, test-suite result
matching, SQL extraction, hardness) and MMLU log-likelihood scoring.

Names are imported lazily so that `tradeoff.suites.mmlu.scoring` or `metrics.hardness` can be used
where deepeval is not installed (e.g. a GPU box that only precomputes predictions).
"""

from importlib import import_module
from typing import Any

_EXPORTS = {
    "ExecutionAccuracy": "metrics.execution_accuracy",
    "GoldQueryError": "metrics.execution_accuracy",
    "VARIANTS": "metrics.spider_variants",
    "spider_hardness": "metrics.hardness",
    "gold_orders_rows": "metrics.result_match",
    "is_vacuous": "metrics.result_match",
    "results_match": "metrics.result_match",
    "set_match": "metrics.result_match",
    "QueryLimits": "metrics.sandbox",
    "QueryResult": "metrics.sandbox",
    "Sandbox": "metrics.sandbox",
    "sandbox_for": "metrics.sandbox",
    "extract_sql": "metrics.sql_extract",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'metrics' has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)
