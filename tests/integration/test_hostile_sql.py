"""Hostile model output at scale: hundreds of pathological SQL answers scored
through ExecutionAccuracy against copies of a real Spider database and of a
synthetic one. Nothing may crash, every case must fail with a reason and a
category, the database files must stay byte-identical with no side files,
and the whole run must finish within queries x per-query limit + margin.

The corpus lives in tests/unit/hostile_sql.py; bench/hostile_sql_report.py
prints the same figures as a table (docs/faults-hostile-sql.md).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from collections import Counter
from pathlib import Path

import pytest
from deepeval.test_case import LLMTestCase

from metrics import ExecutionAccuracy, QueryLimits
from metrics.sandbox import FAILURES, HARD_GRACE_S
from metrics.sql_extract import extract_sql

from hostile_sql import MB, generate, make_synthetic_db, score_corpus  # noqa: E402

SPIDER_DB = (
    Path(os.environ.get("SPIDER_DIR", "/work/shared/data/spider")) / "database/concert_singer/concert_singer.sqlite"
)
LIMITS = QueryLimits(timeout_s=0.5)
PER_QUERY_S = LIMITS.timeout_s + HARD_GRACE_S  # the most one query may take in SQLite
MARGIN_S = 15.0  # extraction of the 1-4 MB outputs, result comparison, a loaded machine
CATEGORIES = set(FAILURES) | {"wrong_result"}

# (database, table, text column, numeric column, gold query)
TARGETS = {
    "spider_concert_singer": ("singer", "Name", "Age", "SELECT Name, Country FROM singer ORDER BY Age DESC"),
    "synthetic_wal": ("people", "name", "n", "SELECT name, n FROM people ORDER BY n DESC, id"),
}


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _prepare(which: str, tmp_path: Path) -> Path:
    if which == "synthetic_wal":
        return make_synthetic_db(tmp_path / "people.sqlite")
    if not SPIDER_DB.is_file():
        pytest.skip(f"Spider database not found at {SPIDER_DB} (set SPIDER_DIR)")
    copy = tmp_path / SPIDER_DB.name
    shutil.copyfile(SPIDER_DB, copy)
    copy.chmod(0o644)  # writable: only the sandbox stands between the SQL and the file
    return copy


def test_corpus_is_big_and_broad(tmp_path):
    corpus = generate("t", "a", "b", tmp_path)
    assert len(corpus) >= 200
    assert len({c.name for c in corpus}) == len(corpus)
    families = Counter(c.family for c in corpus)
    assert set(families) >= {
        "write",
        "attach",
        "pragma",
        "extension",
        "recursion",
        "blob",
        "cartesian",
        "nesting",
        "comment",
        "quadratic",
        "like",
        "size",
        "script",
        "encoding",
        "nul",
        "misc",
    }
    assert sum(len(c.output) >= MB for c in corpus) >= 15
    assert any(c.output.count(";") >= 99 for c in corpus if c.family == "script")
    assert any("\x00" in c.output for c in corpus)
    assert any(_has_surrogate(c.output) for c in corpus)
    for c in corpus:
        assert c.expect and c.expect <= CATEGORIES, c


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


@pytest.mark.parametrize(
    "which",
    [
        "spider_concert_singer",
        # the second database doubles the run time; CI still runs it
        pytest.param("synthetic_wal", marks=pytest.mark.slow),
    ],
)
def test_hostile_corpus_scores_zero_safely_and_in_bounded_time(which, tmp_path):
    table, text_col, num_col, gold = TARGETS[which]
    db = _prepare(which, tmp_path)
    scratch = db.parent  # ATTACH / VACUUM INTO aim their files here
    corpus = generate(table, text_col, num_col, scratch)
    before_hash, before_files = _digest(db), sorted(os.listdir(scratch))
    before_stat = db.stat()

    start = time.perf_counter()
    outcomes = score_corpus(db, gold, corpus, LIMITS)
    wall = time.perf_counter() - start

    crashes = [(o.case.name, o.crash) for o in outcomes if o.crash]
    assert crashes == []
    bad = [
        (o.case.name, o.score, o.failure, o.reason[:120])
        for o in outcomes
        if o.score != 0.0 or o.failure not in o.case.expect or not o.reason.strip()
    ]
    assert bad == []
    assert all(o.failure in CATEGORIES for o in outcomes)

    # byte-identical, untouched, and no side files (-wal, -shm, -journal, attached/vacuumed copies)
    assert _digest(db) == before_hash
    assert db.stat().st_mtime_ns == before_stat.st_mtime_ns and db.stat().st_size == before_stat.st_size
    assert sorted(os.listdir(scratch)) == before_files

    bound = len(corpus) * PER_QUERY_S + MARGIN_S
    assert wall < bound, f"{wall:.1f} s for {len(corpus)} queries, bound {bound:.1f} s"

    # the sandbox still answers correctly after all that
    metric = ExecutionAccuracy(limits=LIMITS)
    test_case = LLMTestCase(input="q", actual_output=gold, expected_output=gold, metadata={"db_path": str(db)})
    assert metric.measure(test_case) == 1.0, metric.reason

    counts = Counter(o.failure for o in outcomes)
    assert len(counts) >= 7, counts
    slowest = max(outcomes, key=lambda o: o.elapsed_s)
    print(
        f"\n{which}: {len(corpus)} cases, {wall:.1f} s (bound {bound:.1f} s), slowest "
        f"{slowest.case.name} {slowest.elapsed_s:.2f} s, categories {dict(counts.most_common())}"
    )


@pytest.mark.parametrize("shape", ["newlines", "spaced_blank_lines"])
def test_extraction_of_blank_line_runs_is_linear(shape):
    """Regression: `_cut_tail` rescanned a run of blank lines from each newline in
    it, so "SELECT 1" + "\\n" * 1_000_000 + "FROM t" hung scoring for hours."""
    sep = "\n" if shape == "newlines" else " \n"
    text = "SELECT a" + sep * 200_000 + "FROM t"
    start = time.perf_counter()
    assert extract_sql(text) == text
    assert time.perf_counter() - start < 5.0
