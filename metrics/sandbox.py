"""Run untrusted, model-generated SQL against a SQLite database, read-only.

Model output is hostile input: it may try to write, attach other files,
change pragmas, load extensions, loop forever or exhaust memory. Defences,
outermost first:

1. one statement only, and never one of SQLite's non-query statements
   (only SELECT, WITH and VALUES get through);
2. the file is opened `mode=ro&immutable=1` (no journal/WAL side files) and
   `PRAGMA query_only=1` is set;
3. an authorizer allows reading only (SELECT, READ, RECURSIVE, harmless
   functions, the schema-describing table-valued pragmas) and denies everything
   else: writes, DDL, ATTACH (which VACUUM INTO also needs), other PRAGMAs,
   transactions, load_extension;
4. `setlimit` caps value size (randomblob/zeroblob bombs), SQL length,
   columns, LIKE patterns, expression depth and attached databases;
5. a progress handler interrupts the query at a wall-clock deadline, and
   fetching stops after `max_rows` rows or a total byte budget;
6. backstop: a progress handler only runs between VM instructions, and one
   instruction can run for minutes (e.g. `instr()` on two 5 MB strings is
   quadratic). Queries therefore run on a per-connection daemon thread; if it
   misses the deadline by `HARD_GRACE_S`, the caller gets "timeout" at once
   and that connection is abandoned (its thread stops as soon as the stuck
   call returns) and replaced by a fresh one.

`Sandbox.run` never raises for bad SQL; it returns a `QueryResult` whose
`failure` names what went wrong.
"""

from __future__ import annotations

import os
import queue
import re
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["QueryLimits", "QueryResult", "Sandbox", "sandbox_for", "FAILURES"]

FAILURES = (
    "syntax_error",
    "runtime_error",
    "timeout",
    "too_many_rows",
    "denied",
    "multiple_statements",
    "empty_output",
)

MAX_SQL_CHARS = 100_000  # Spider queries are < 1 kB; longer text is not a query
MAX_COLUMNS = 256  # >= widest Spider table (48); bounds one row's memory
MAX_EXPR_DEPTH = 200
MAX_LIKE_PATTERN = 1_000  # LIKE/GLOB cost is ~ pattern x text
RESULT_BYTES_FACTOR = 10  # fetched result's estimated memory <= factor * max_value_bytes
# Python's own cost of a fetched row and of each value in it (tuple header and
# list slot; pointer plus int/float object), charged on top of text/blob
# lengths so that wide rows of numbers cannot grow past the budget unseen.
ROW_OVERHEAD_BYTES = 64
VALUE_OVERHEAD_BYTES = 40
PROGRESS_STEPS = 100  # VM instructions between deadline checks (~1% overhead)
HARD_GRACE_S = 0.25  # how long past the deadline before a connection is abandoned

_ALLOWED_ACTIONS = frozenset({sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_RECURSIVE})
# Table-valued pragmas that only describe the schema (`SELECT * FROM pragma_table_info('t')`).
READ_ONLY_PRAGMAS = frozenset(
    "table_info table_xinfo table_list index_list index_info index_xinfo foreign_key_list "
    "collation_list database_list function_list module_list pragma_list compile_options".split()
)
# The first use of an eponymous virtual table (pragma_*, json_each) on a connection makes SQLite
# declare it, which an authorizer sees as an UPDATE of sqlite_master. The allowed ones are
# therefore declared when the connection opens, before the authorizer is installed.
_DECLARED_VTABS = tuple(f"pragma_{name}" for name in sorted(READ_ONLY_PRAGMAS)) + ("json_each", "json_tree")
_PRAGMA_TABLE = re.compile(r"\bpragma_(\w+)", re.IGNORECASE)
_DENIED_FUNCTIONS = frozenset({"load_extension", "fts3_tokenizer", "readfile", "writefile", "edit", "sqlite_dbpage"})
_ACTION_NAMES = {
    getattr(sqlite3, f"SQLITE_{name}"): name
    for name in (
        "CREATE_INDEX CREATE_TABLE CREATE_TEMP_INDEX CREATE_TEMP_TABLE "
        "CREATE_TEMP_TRIGGER CREATE_TEMP_VIEW CREATE_TRIGGER CREATE_VIEW DELETE "
        "DROP_INDEX DROP_TABLE DROP_TEMP_INDEX DROP_TEMP_TABLE DROP_TEMP_TRIGGER "
        "DROP_TEMP_VIEW DROP_TRIGGER DROP_VIEW INSERT PRAGMA READ SELECT "
        "TRANSACTION UPDATE ATTACH DETACH ALTER_TABLE REINDEX ANALYZE "
        "CREATE_VTABLE DROP_VTABLE FUNCTION SAVEPOINT RECURSIVE"
    ).split()
}
_FIRST_WORD = re.compile(r"[A-Za-z_]+")
# Every other statement SQLite knows; anything else is left to its parser.
_OTHER_STATEMENTS = frozenset(
    "alter analyze attach begin commit create delete detach drop end explain insert "
    "pragma reindex release replace rollback savepoint update vacuum".split()
)
_SYNTAX_MARKERS = ("syntax error", "incomplete input", "unrecognized token", "parser stack overflow")

Outcome = tuple[str | None, str, list[tuple] | None]  # (failure, detail, rows)


@dataclass(frozen=True)
class QueryLimits:
    """Per-query resource caps; frozen so it can key the sandbox cache."""

    timeout_s: float = 5.0
    max_rows: int = 100_000
    max_value_bytes: int = 10_000_000


@dataclass
class QueryResult:
    """Outcome of one query: rows on success, otherwise a failure code."""

    rows: list[tuple] | None
    failure: str | None
    message: str
    elapsed_s: float

    @property
    def ok(self) -> bool:
        return self.failure is None


class _Rejected(Exception):
    """Internal: the text must not, or cannot, be handed to SQLite."""

    def __init__(self, failure: str, detail: str) -> None:
        super().__init__(detail)
        self.failure = failure


class _Job:
    __slots__ = ("sql", "done", "outcome")

    def __init__(self, sql: str) -> None:
        self.sql = sql
        self.done = threading.Event()
        self.outcome: Outcome = ("timeout", "not run", None)


class _Session:
    """One hardened connection plus the daemon thread that uses it.

    Callbacks keep their state here, not on the Sandbox, because an
    abandoned session may still be finishing a stuck call.
    """

    def __init__(self, db_path: Path, limits: QueryLimits) -> None:
        self.limits = limits
        self.deadline = 0.0
        self.denial: str | None = None
        self.sql_text: str | None = None
        self.conn = _open(db_path, limits, self._authorize, self._past_deadline)
        self.jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._serve, name=f"sql-sandbox:{db_path.name}", daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while (job := self.jobs.get()) is not None:
            job.outcome = self._execute(job.sql)
            job.done.set()
        self.conn.close()

    def retire(self) -> None:
        """Stop after the current job; the connection closes in-thread."""
        self.deadline = 0.0  # make the progress handler interrupt at once
        self.jobs.put(None)

    def _authorize(self, action: int, arg1: Any, arg2: Any, db: Any, trigger: Any) -> int:
        if action in _ALLOWED_ACTIONS:
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_FUNCTION and str(arg2).lower() not in _DENIED_FUNCTIONS:
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_PRAGMA and str(arg1).lower() in READ_ONLY_PRAGMAS:
            return sqlite3.SQLITE_OK
        if self.denial is None:
            detail = " ".join(str(a) for a in (arg1, arg2) if a)
            self.denial = f"{_ACTION_NAMES.get(action, str(action))} {detail}".strip()
            if action == sqlite3.SQLITE_PRAGMA:
                self.denial += " (only the read-only schema pragmas may be queried)"
        return sqlite3.SQLITE_DENY

    def _past_deadline(self) -> int:
        return 1 if time.monotonic() > self.deadline else 0

    def _execute(self, sql: str) -> Outcome:
        self.denial = None
        self.sql_text = sql
        self.deadline = time.monotonic() + self.limits.timeout_s
        cursor = self.conn.cursor()
        try:
            cursor.execute(sql)
            return self._fetch(cursor)
        except Exception as exc:  # noqa: BLE001 - any error is the query's fault
            failure = self._classify(exc)
            return failure, self._detail(failure, exc), None
        finally:
            self.deadline = 0.0
            try:
                cursor.close()
            except Exception:  # noqa: BLE001
                pass

    def _fetch(self, cursor: sqlite3.Cursor) -> Outcome:
        """Fetch row by row so memory stays bounded by the caps."""
        max_rows = self.limits.max_rows
        byte_budget = RESULT_BYTES_FACTOR * self.limits.max_value_bytes
        rows: list[tuple] = []
        used = 0
        for row in cursor:
            if len(rows) >= max_rows:
                return "too_many_rows", f"more than {max_rows} rows", None
            used += ROW_OVERHEAD_BYTES + VALUE_OVERHEAD_BYTES * len(row)
            for value in row:
                if isinstance(value, (str, bytes)):
                    used += len(value)
            if used > byte_budget:
                return "too_many_rows", f"result larger than {byte_budget} bytes", None
            rows.append(row)
        return None, f"{len(rows)} rows", rows

    def _classify(self, exc: Exception) -> str:
        text = str(exc).lower()
        if self.denial is not None or "not authorized" in text or "authorization denied" in text:
            return "denied"
        if "interrupted" in text:
            return "timeout"
        if "one statement at a time" in text:
            return "multiple_statements"
        if any(marker in text for marker in _SYNTAX_MARKERS):
            return "syntax_error"
        return "runtime_error"

    def _detail(self, failure: str, exc: Exception) -> str:
        text = str(exc) or type(exc).__name__
        if failure == "denied" and self.denial:
            if self.denial.startswith("UPDATE sqlite_master") and self.sql_text is not None:
                # SQLite declaring a virtual table that was not declared up front (see _DECLARED_VTABS)
                named = _PRAGMA_TABLE.search(self.sql_text)
                what = f"PRAGMA {named.group(1)}" if named else "a virtual table"
                return f"{what} (only the read-only schema pragmas may be queried) ({text})"
            return f"{self.denial} ({text})"
        if failure == "timeout":
            return f"query ran longer than {self.limits.timeout_s:g} s"
        return text


def _open(db_path: Path, limits: QueryLimits, authorizer: Any, progress: Any) -> sqlite3.Connection:
    uri = f"{db_path.as_uri()}?mode=ro&immutable=1"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    try:
        # As Spider's test-suite evaluator: bad UTF-8 in the data (or made by
        # CAST(x'ff' AS TEXT)) must not crash the fetch.
        conn.text_factory = lambda b: b.decode(errors="ignore")
        conn.execute("PRAGMA query_only=1")
        if hasattr(conn, "enable_load_extension"):
            conn.enable_load_extension(False)
        for limit, value in (
            (sqlite3.SQLITE_LIMIT_LENGTH, limits.max_value_bytes),
            (sqlite3.SQLITE_LIMIT_SQL_LENGTH, min(4 * MAX_SQL_CHARS, limits.max_value_bytes)),
            (sqlite3.SQLITE_LIMIT_COLUMN, MAX_COLUMNS),
            (sqlite3.SQLITE_LIMIT_EXPR_DEPTH, MAX_EXPR_DEPTH),
            (sqlite3.SQLITE_LIMIT_LIKE_PATTERN_LENGTH, MAX_LIKE_PATTERN),
            (sqlite3.SQLITE_LIMIT_ATTACHED, 0),
            (sqlite3.SQLITE_LIMIT_TRIGGER_DEPTH, 1),
            (sqlite3.SQLITE_LIMIT_WORKER_THREADS, 0),
        ):
            conn.setlimit(limit, value)
        for vtab in _DECLARED_VTABS:
            try:
                conn.execute(f"SELECT * FROM {vtab} LIMIT 0").fetchall()
            except sqlite3.Error:
                pass  # a module this SQLite build lacks stays unavailable
        conn.set_authorizer(authorizer)
        conn.set_progress_handler(progress, PROGRESS_STEPS)
    except BaseException:
        conn.close()
        raise
    return conn


class Sandbox:
    """Runs untrusted SQL on one SQLite database file, read-only."""

    def __init__(self, db_path: str | Path, limits: QueryLimits = QueryLimits()) -> None:
        self.db_path = Path(db_path).resolve()
        self.limits = limits
        if not self.db_path.is_file():
            raise FileNotFoundError(f"database not found: {self.db_path}")
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._closed = False
        self._session: _Session | None = _Session(self.db_path, limits)

    def run(self, sql: str) -> QueryResult:
        """Execute one read-only query; never raises for bad SQL."""
        start = time.perf_counter()
        try:
            _precheck(sql)
            failure, detail, rows = self._submit(sql)
        except _Rejected as exc:
            failure, detail, rows = exc.failure, str(exc), None
        message = detail if failure is None else f"{failure.replace('_', ' ')}: {detail}"
        return QueryResult(rows, failure, message, time.perf_counter() - start)

    def _submit(self, sql: str) -> Outcome:
        with self._lock:
            if self._closed:
                raise RuntimeError("sandbox is closed")
            if self._session is None or self._pid != os.getpid():
                # after an abandoned query, or in a forked child without our thread
                self._session = _Session(self.db_path, self.limits)
                self._pid = os.getpid()
            session = self._session
            job = _Job(sql)
            session.jobs.put(job)
            if job.done.wait(self.limits.timeout_s + HARD_GRACE_S):
                return job.outcome
            session.retire()
            self._session = None
        return (
            "timeout",
            f"query ran longer than {self.limits.timeout_s:g} s (stuck inside one SQLite call; connection abandoned)",
            None,
        )

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._session is not None:
                self._session.retire()
                self._session = None

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Sandbox({str(self.db_path)!r}, {self.limits!r})"


def _precheck(sql: Any) -> None:
    """Reject what SQLite should never see: non-text, bad encodings, NULs,
    oversized text, and statements that are not queries."""
    if not isinstance(sql, str):
        raise _Rejected("syntax_error", f"SQL must be text, got {type(sql).__name__}")
    if len(sql) > MAX_SQL_CHARS:
        raise _Rejected("syntax_error", f"SQL text longer than {MAX_SQL_CHARS} characters")
    try:
        sql.encode("utf-8")
    except UnicodeEncodeError:
        raise _Rejected("syntax_error", "SQL text is not valid Unicode (lone surrogate)") from None
    if "\x00" in sql:
        raise _Rejected("syntax_error", "SQL text contains a NUL character")
    start = _skip_comments(sql)
    if start == len(sql):
        raise _Rejected("empty_output", "no SQL statement")
    word = _FIRST_WORD.match(sql, start)
    keyword = word.group(0).lower() if word else ""
    if keyword in _OTHER_STATEMENTS:
        raise _Rejected("denied", f"only SELECT/WITH/VALUES queries may run, got {keyword.upper()}")


def _skip_comments(sql: str) -> int:
    """Index of the first character that is not blank, `;` or a comment."""
    i, n = 0, len(sql)
    while i < n:
        if sql[i].isspace() or sql[i] == ";":
            i += 1
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end + 1
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            i = n if end < 0 else end + 2
        else:
            break
    return i


_CACHE: dict[tuple[int, Path, QueryLimits], Sandbox] = {}
_CACHE_LOCK = threading.Lock()


def sandbox_for(db_path: str | Path, limits: QueryLimits = QueryLimits()) -> Sandbox:
    """A process-wide, reused sandbox per (database, limits).

    Opening a connection and loading the schema costs more than running a
    typical Spider query, so scoring many queries reuses connections. The
    pid is part of the key so a forked child never shares its parent's.
    """
    key = (os.getpid(), Path(db_path).resolve(), limits)
    with _CACHE_LOCK:
        box = _CACHE.get(key)
        if box is None:
            box = _CACHE[key] = Sandbox(key[1], limits)
        return box
