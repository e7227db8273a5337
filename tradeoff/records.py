"""A benchmark case's final outcome as the collector keeps it, and the pass-rate block with its
95% Wilson interval that every suite's summary is made of."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from tradeoff.statistics import wilson_interval

__all__ = ["CaseRecord", "proportion", "rate", "scored"]


@dataclass
class CaseRecord:
    suite: str
    case_id: str
    outcome: str  # passed | failed | skipped | error
    props: dict[str, Any] = field(default_factory=dict)
    skip_reason: str | None = None
    duration_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def scored(records: list[CaseRecord]) -> list[CaseRecord]:
    """The records that carry a verdict (passed or failed; not skipped, not errored)."""
    return [r for r in records if r.outcome in ("passed", "failed")]


def proportion(passed: int, n: int) -> dict[str, Any]:
    lo, hi = wilson_interval(passed, n)
    return {"passed": passed, "rate": passed / n if n else None, "ci95": [lo, hi] if n else None}


def rate(records: list[CaseRecord]) -> dict[str, Any]:
    done = scored(records)
    passed = sum(r.outcome == "passed" for r in done)
    n = len(done)
    lo, hi = wilson_interval(passed, n)
    return {"scored": n, "passed": passed, "pass_rate": passed / n if n else None, "ci95": [lo, hi] if n else None}
