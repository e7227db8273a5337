"""Resource bounds, measured: the peak RSS of scoring a prediction that returns
millions of rows (or very wide, or very wordy, rows) stays within the sandbox's
caps, while the same query fetched without the sandbox would be far bigger.

Each query is scored in its own forked child of one worker process
(tests/unit/peak_rss.py); peak RSS comes from the child's VmHWM and from
os.wait4()'s ru_maxrss, and is compared with a child scoring `SELECT 1`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from metrics.sandbox import RESULT_BYTES_FACTOR, QueryLimits

HERE = Path(__file__).resolve().parents[1] / "helpers"
SPIDER_DB = Path("/work/shared/data/spider/database/concert_singer/concert_singer.sqlite")
MB = 1024  # ru_maxrss and VmHWM are in KiB
BUDGET_MB = RESULT_BYTES_FACTOR * QueryLimits().max_value_bytes / 2**20

R5M = "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r LIMIT 5000000)"
SHAPES = [
    ("trivial", "SELECT 1", "score"),
    # 5 million one-integer rows: stopped by max_rows (100 000)
    ("narrow_5m_rows", f"{R5M} SELECT x FROM r", "score"),
    # 6^7 = 280 000 rows x 49 columns of a real Spider table: stopped by the result budget
    ("cross_join_7way", "SELECT * FROM singer a, singer b, singer c, singer d, singer e, singer f, singer g", "score"),
    # 5 million rows x 250 float columns: before the fix, only the 5 s timeout stopped it (~1 GB)
    ("wide_250_cols", f"{R5M} SELECT {', '.join(f'x * 1.5 + {i}' for i in range(250))} FROM r", "score"),
    # 5 million 1 kB strings
    ("text_1kb_rows", f"{R5M} SELECT printf('%01000d', x) FROM r", "score"),
    # what an unprotected scorer would hold for the first query
    ("uncapped_narrow_5m_rows", f"{R5M} SELECT x FROM r", "uncapped"),
]


def measure_peaks(db: Path, shapes=SHAPES) -> dict:
    entries = [{"name": n, "sql": q, "mode": m} for n, q, m in shapes]
    proc = subprocess.run(
        [sys.executable, str(HERE / "peak_rss.py"), str(db), json.dumps(entries)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def peaks(tmp_path_factory) -> dict:
    if not SPIDER_DB.is_file():
        pytest.skip(f"Spider database not found at {SPIDER_DB}")
    db = tmp_path_factory.mktemp("rss") / SPIDER_DB.name
    shutil.copyfile(SPIDER_DB, db)
    return measure_peaks(db)


def _peak_kb(report: dict) -> int:
    return max(report["hwm_kb"], report["maxrss_kb"])


def _extra_mb(peaks: dict, name: str) -> float:
    return (_peak_kb(peaks[name]) - _peak_kb(peaks["trivial"])) / MB


@pytest.mark.slow
def test_every_child_ran_and_reported(peaks):
    assert set(peaks) == {n for n, _, _ in SHAPES}
    for name, report in peaks.items():
        assert report["exit"] == 0, (name, report)
        assert report["hwm_kb"] > 0 and report["maxrss_kb"] > 0
    assert peaks["trivial"]["failure"] is None


@pytest.mark.slow
def test_millions_of_rows_are_capped_and_memory_stays_small(peaks):
    report = peaks["narrow_5m_rows"]
    assert report["failure"] == "too_many_rows", report
    assert _extra_mb(peaks, "narrow_5m_rows") < 50


@pytest.mark.slow
@pytest.mark.parametrize("name", ["cross_join_7way", "wide_250_cols", "text_1kb_rows"])
def test_big_results_stop_at_the_result_budget(peaks, name):
    report = peaks[name]
    # the budget trips first (~1 s here); on a heavily loaded machine the 5 s timeout may
    assert report["failure"] in ("too_many_rows", "timeout"), report
    assert _extra_mb(peaks, name) < BUDGET_MB + 32, (name, report)


@pytest.mark.slow
def test_uncapped_result_would_be_far_bigger(peaks):
    assert peaks["uncapped_narrow_5m_rows"]["reason"] == "5000000 rows fetched"
    uncapped = _extra_mb(peaks, "uncapped_narrow_5m_rows")
    assert uncapped > 300
    assert uncapped > 10 * max(_extra_mb(peaks, "narrow_5m_rows"), 1)
    assert uncapped > 2 * max(_extra_mb(peaks, n) for n in ("cross_join_7way", "wide_250_cols", "text_1kb_rows"))
