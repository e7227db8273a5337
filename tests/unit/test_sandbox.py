"""The SQLite sandbox: read-only, bounded, never raising on bad SQL."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from metrics.sandbox import HARD_GRACE_S, QueryLimits, QueryResult, Sandbox, sandbox_for

FAST = QueryLimits(timeout_s=0.5, max_rows=1_000, max_value_bytes=1_000_000)


def _make_db(path: Path) -> Path:
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        CREATE TABLE singer(id INTEGER PRIMARY KEY, name TEXT, age INTEGER, score REAL);
        CREATE INDEX singer_age ON singer(age);
        CREATE TABLE raw(data BLOB);
        """
    )
    conn.executemany(
        "INSERT INTO singer VALUES (?, ?, ?, ?)",
        [(i, f"s{i}", 20 + i % 30, i / 4) for i in range(200)],
    )
    conn.execute("INSERT INTO raw VALUES (?)", (b"caf\xc3\xa9 \xff\xfe bad utf8",))
    conn.commit()
    conn.close()
    return path


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture()
def db(tmp_path: Path) -> Path:
    return _make_db(tmp_path / "concert.sqlite")


def test_select_returns_rows(db):
    with Sandbox(db, FAST) as box:
        result = box.run("SELECT name, age FROM singer WHERE id < 3 ORDER BY id")
    assert isinstance(result, QueryResult)
    assert result.failure is None and result.ok
    assert result.rows == [("s0", 20), ("s1", 21), ("s2", 22)]
    assert result.elapsed_s >= 0


def test_trailing_semicolon_and_comments_are_one_statement(db):
    with Sandbox(db, FAST) as box:
        result = box.run("/* lead */ SELECT count(*) FROM singer; -- done\n  ")
    assert result.rows == [(200,)]


def test_invalid_utf8_in_data_is_decoded_leniently(db):
    with Sandbox(db, FAST) as box:
        result = box.run("SELECT CAST(data AS TEXT) FROM raw")
    assert result.rows == [("café  bad utf8",)]


# (sql, expected failure)
REFUSED = [
    ("DROP TABLE singer", "denied"),
    ("DELETE FROM singer", "denied"),
    ("INSERT INTO singer(name) VALUES ('x')", "denied"),
    ("UPDATE singer SET age = 0", "denied"),
    ("CREATE TABLE t(a)", "denied"),
    ("ALTER TABLE singer RENAME TO s2", "denied"),
    ("ATTACH DATABASE ':memory:' AS other", "denied"),
    ("DETACH DATABASE main", "denied"),
    ("PRAGMA journal_mode=WAL", "denied"),
    ("PRAGMA writable_schema=1", "denied"),
    ("VACUUM INTO 'copy.sqlite'", "denied"),
    ("BEGIN", "denied"),
    ("EXPLAIN SELECT 1", "denied"),
    ("WITH x AS (SELECT 1) DELETE FROM singer", "denied"),
    ("WITH x AS (SELECT 1) INSERT INTO singer(name) SELECT * FROM x", "denied"),
    ("SELECT load_extension('libevil')", "denied"),
    ("SELECT * FROM pragma_writable_schema", "denied"),
    ("SELECT * FROM pragma_journal_mode", "denied"),
    ("SELECT 1; DROP TABLE singer", "multiple_statements"),
    ("SELECT 1; SELECT 2", "multiple_statements"),
    ("SELEC name FROM singer", "syntax_error"),
    ("SELECT name FROM", "syntax_error"),
    ("SELECT nope FROM singer", "runtime_error"),
    ("SELECT * FROM no_such_table", "runtime_error"),
    ("SELECT ?", "runtime_error"),
    ("SELECT randomblob(100000000)", "runtime_error"),
    ("SELECT zeroblob(100000000)", "runtime_error"),
    ("SELECT 1\x00; DROP TABLE singer", "syntax_error"),
    ("SELECT '\ud800'", "syntax_error"),
    ("SELECT '" + "x" * 200_000 + "'", "syntax_error"),
    ("", "empty_output"),
    ("  ;  -- nothing", "empty_output"),
    ("SELECT * FROM singer a, singer b", "too_many_rows"),
    ("SELECT zeroblob(900000) FROM singer", "too_many_rows"),
    ("WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r) SELECT count(*) FROM r", "timeout"),
    ("SELECT count(*) FROM singer a, singer b, singer c, singer d, singer e", "timeout"),
]


@pytest.mark.parametrize(("sql", "failure"), REFUSED, ids=[repr(s[:40]) for s, _ in REFUSED])
def test_refused_queries_fail_cleanly_and_leave_db_untouched(db, sql, failure):
    before, files = _digest(db), sorted(os.listdir(db.parent))
    with Sandbox(db, FAST) as box:
        start = time.monotonic()
        result = box.run(sql)
        elapsed = time.monotonic() - start
        assert box.run("SELECT count(*) FROM singer").rows == [(200,)]  # still usable
    assert result.failure == failure, result.message
    assert result.rows is None
    assert result.message.startswith(failure.replace("_", " "))
    assert elapsed < FAST.timeout_s + HARD_GRACE_S + 1.0
    assert _digest(db) == before
    assert sorted(os.listdir(db.parent)) == files  # no -wal/-shm/-journal/copies


def test_denied_message_names_the_operation(db):
    with Sandbox(db, FAST) as box:
        message = box.run("WITH x AS (SELECT 1) DELETE FROM singer").message
    assert "DELETE" in message and "singer" in message


def test_never_raises_on_non_text(db):
    with Sandbox(db, FAST) as box:
        result = box.run(b"SELECT 1")  # type: ignore[arg-type]
    assert result.failure == "syntax_error"


def test_max_rows_boundary(db):
    limits = QueryLimits(timeout_s=1.0, max_rows=200)
    with Sandbox(db, limits) as box:
        assert len(box.run("SELECT * FROM singer").rows) == 200  # exactly at the cap
        assert box.run("SELECT * FROM singer UNION ALL SELECT * FROM singer LIMIT 201").failure == "too_many_rows"


def test_value_size_cap_follows_limits(db):
    with Sandbox(db, QueryLimits(max_value_bytes=1_000)) as box:
        assert box.run("SELECT length(randomblob(1000))").rows == [(1000,)]
        assert box.run("SELECT randomblob(1001)").failure == "runtime_error"


def test_stuck_sqlite_call_hits_hard_deadline_and_sandbox_recovers(db):
    """instr() on long strings is one VM instruction, so the progress handler
    cannot stop it; the thread backstop must."""
    limits = QueryLimits(timeout_s=0.3, max_value_bytes=10_000_000)
    sql = "SELECT instr(hex(zeroblob(300000)), hex(zeroblob(150000)) || '1')"
    with Sandbox(db, limits) as box:
        start = time.monotonic()
        result = box.run(sql)
        elapsed = time.monotonic() - start
        assert result.failure == "timeout"
        assert "abandoned" in result.message
        assert elapsed < limits.timeout_s + HARD_GRACE_S + 1.0
        assert box.run("SELECT count(*) FROM singer").rows == [(200,)]


def test_sandbox_for_reuses_connections(db):
    a = sandbox_for(db, FAST)
    assert sandbox_for(str(db), FAST) is a
    assert sandbox_for(db.parent / "." / db.name, FAST) is a
    assert sandbox_for(db, QueryLimits(timeout_s=0.7)) is not a


def test_missing_database_raises(tmp_path):
    with pytest.raises(FileNotFoundError):
        Sandbox(tmp_path / "absent.sqlite")
    assert not (tmp_path / "absent.sqlite").exists()


def test_concurrent_callers_get_their_own_results(db):
    box = sandbox_for(db, FAST)
    errors: list[str] = []

    def worker(i: int) -> None:
        for _ in range(20):
            rows = box.run(f"SELECT id FROM singer WHERE id = {i}").rows
            if rows != [(i,)]:
                errors.append(f"{i}: {rows}")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_read_only_schema_pragmas_run_and_others_are_named(db):
    with Sandbox(db, FAST) as box:
        info = box.run("SELECT name FROM pragma_table_info('singer')")
        assert info.failure is None and ("name",) in info.rows
        assert box.run("SELECT count(*) FROM pragma_index_list('singer')").failure is None
        assert box.run("SELECT value FROM json_each('[1, 2]')").rows == [(1,), (2,)]
        refused = box.run("SELECT * FROM pragma_journal_mode")
        assert refused.failure == "denied"
        assert "PRAGMA journal_mode" in refused.message and "sqlite_master" not in refused.message
