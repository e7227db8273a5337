"""Measure the peak memory of scoring one prediction, in a fresh process.

    python tests/helpers/peak_rss.py DB_PATH JSON

JSON is a list of {"name", "sql", "mode"} where mode is "score" (score `sql`
as a prediction through ExecutionAccuracy with the default QueryLimits) or
"uncapped" (plain sqlite3 `fetchall()` of `sql`, what an unprotected scorer
would hold). The worker imports everything once, then forks one child per
entry, so each child starts from the same resident set; each child's peak is
read twice: VmHWM from its /proc/self/status, and ru_maxrss from os.wait4().
Prints one JSON object: {name: {"hwm_kb", "maxrss_kb", "failure", "reason",
"elapsed_s"}}.

Used by tests/integration/test_resource_bounds.py and bench/hostile_sql_report.py.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("DEEPEVAL_TELEMETRY_OPT_OUT", "1")
REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

GOLD = "SELECT 1"


def _hwm_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return -1


def _child(db: str, entry: dict, wfd: int) -> None:
    import sqlite3

    from deepeval.test_case import LLMTestCase

    from metrics import ExecutionAccuracy

    start = time.perf_counter()
    if entry["mode"] == "uncapped":
        conn = sqlite3.connect(f"file:{db}?mode=ro&immutable=1", uri=True)
        rows = conn.execute(entry["sql"]).fetchall()
        failure, reason = None, f"{len(rows)} rows fetched"
    else:
        metric = ExecutionAccuracy(db_path=db)
        metric.measure(LLMTestCase(input="q", actual_output=entry["sql"], expected_output=GOLD))
        failure, reason = metric.failure, metric.reason
    report = {
        "hwm_kb": _hwm_kb(),
        "failure": failure,
        "reason": reason[:200],
        "elapsed_s": round(time.perf_counter() - start, 3),
    }
    os.write(wfd, json.dumps(report).encode())
    os._exit(0)


def measure(db: str, entries: list[dict]) -> dict:
    # Import (and warm) everything before forking, so children differ only by the query.
    from deepeval.test_case import LLMTestCase  # noqa: F401

    import metrics.execution_accuracy  # noqa: F401
    import metrics.result_match

    metrics.result_match.gold_orders_rows(GOLD)
    out = {}
    for entry in entries:
        rfd, wfd = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(rfd)
            try:
                _child(db, entry, wfd)
            finally:
                os._exit(1)
        os.close(wfd)
        chunks = []
        while chunk := os.read(rfd, 65536):
            chunks.append(chunk)
        os.close(rfd)
        _, status, usage = os.wait4(pid, 0)
        report = json.loads(b"".join(chunks) or b"{}")
        report["maxrss_kb"] = usage.ru_maxrss  # Linux: kilobytes
        report["exit"] = os.waitstatus_to_exitcode(status)
        out[entry["name"]] = report
    return out


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1], json.loads(sys.argv[2]))))
