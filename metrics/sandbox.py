"""Run untrusted, model-generated SQL against a SQLite database, read-only.

Model output is hostile input: it may try to write, attach other files,
change pragmas, load extensions, loop forever or exhaust memory. Defences,
outermost first:

1. only one statement, and it must start with SELECT, WITH or VALUES;
2. the file is opened `mode=ro&immutable=1` (no journal/WAL side files) and
   `PRAGMA query_only=1` is set;
3. an authorizer allows reading only (SELECT, READ, RECURSIVE, harmless
   functions) and denies everything else: writes, DDL, ATTACH (which VACUUM
   INTO also needs), PRAGMA, transactions, load_extension;
4. `setlimit` caps value size (randomblob/zeroblob bombs), SQL length,
   columns, expression depth and attached databases;
5. a progress handler interrupts the query at a wall-clock deadline, and
   fetching stops after `max_rows` rows or a total byte budget.

`Sandbox.run` never raises for bad SQL; it returns a `QueryResult` whose
`failure` names what went wrong.
"""

from __future__ import annotations

import os
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

MAX_SQL_BYTES = 100_000  # Spider queries are < 1 kB; longer text is not a query
MAX_COLUMNS = 256  # >= widest Spider table (48); bounds one row's memory
MAX_EXPR_DEPTH = 200
RESULT_BYTES_FACTOR = 10  # total text/blob bytes fetched <= factor * max_value_bytes
PROGRESS_STEPS = 100  # VM instructions between deadline checks (cheap: ~1% cost)

_ALLOWED_ACTIONS = frozenset(
    {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_RECURSIVE}
)
_DENIED_FUNCTIONS = frozenset(
    {"load_extension", "fts3_tokenizer", "readfile", "writefile", "edit", "sqlite_dbpage"}
)
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
_QUERY_KEYWORDS = frozenset({"select", "with", "values"})
_SYNTAX_MARKERS = ("syntax error", "incomplete input", "unrecognized token", "parser stack overflow")


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


class _Denied(Exception):
    """Internal: the statement was refused before it reached SQLite."""


class Sandbox:
    """One read-only SQLite connection that runs untrusted SQL safely."""

    def __init__(self, db_path: str | Path, limits: QueryLimits = QueryLimits()) -> None:
        self.db_path = Path(db_path).resolve()
        self.limits = limits
        if not self.db_path.is_file():
            raise FileNotFoundError(f"database not found: {self.db_path}")
        self._lock = threading.Lock()
        self._deadline = 0.0
        self._denial: str | None = None
        self._conn = self._connect()

    def _connect(self) -> sqlite3.Connection:
        uri = f"{self.db_path.as_uri()}?mode=ro&immutable=1"
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        # Spider's test-suite evaluator decodes text this way; bad UTF-8 in
        # the data (or produced by CAST(x'ff' AS TEXT)) must not crash us.
        conn.text_factory = lambda b: b.decode(errors="ignore")
        conn.execute("PRAGMA query_only=1")
        if hasattr(conn, "enable_load_extension"):
            conn.enable_load_extension(False)
        value_cap = self.limits.max_value_bytes
        for limit, value in (
            (sqlite3.SQLITE_LIMIT_LENGTH, value_cap),
            (sqlite3.SQLITE_LIMIT_SQL_LENGTH, min(MAX_SQL_BYTES, value_cap)),
            (sqlite3.SQLITE_LIMIT_COLUMN, MAX_COLUMNS),
            (sqlite3.SQLITE_LIMIT_EXPR_DEPTH, MAX_EXPR_DEPTH),
            (sqlite3.SQLITE_LIMIT_ATTACHED, 0),
            (sqlite3.SQLITE_LIMIT_TRIGGER_DEPTH, 1),
            (sqlite3.SQLITE_LIMIT_WORKER_THREADS, 0),
        ):
            conn.setlimit(limit, value)
        conn.set_authorizer(self._authorize)
        conn.set_progress_handler(self._past_deadline, PROGRESS_STEPS)
        return conn

    def _authorize(self, action: int, arg1: Any, arg2: Any, db: Any, trigger: Any) -> int:
        if action in _ALLOWED_ACTIONS:
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_FUNCTION and str(arg2).lower() not in _DENIED_FUNCTIONS:
            return sqlite3.SQLITE_OK
        if self._denial is None:
            name = _ACTION_NAMES.get(action, str(action))
            detail = " ".join(str(a) for a in (arg1, arg2) if a)
            self._denial = f"{name} {detail}".strip()
        return sqlite3.SQLITE_DENY

    def _past_deadline(self) -> int:
        return 1 if time.monotonic() > self._deadline else 0

    def run(self, sql: str) -> QueryResult:
        """Execute one read-only query; never raises for bad SQL."""
        start = time.perf_counter()
        with self._lock:
            failure, message, rows = self._run_locked(sql)
        return QueryResult(rows, failure, message, time.perf_counter() - start)

    def _run_locked(self, sql: Any) -> tuple[str | None, str, list[tuple] | None]:
        self._denial = None
        try:
            _precheck(sql)
        except _Denied as exc:
            return "denied", str(exc), None
        except _Invalid as exc:
            return exc.failure, str(exc), None
        self._deadline = time.monotonic() + self.limits.timeout_s
        cursor = self._conn.cursor()
        try:
            cursor.execute(sql)
            return self._fetch(cursor)
        except Exception as exc:  # noqa: BLE001 - every error is a model failure
            failure = self._classify(exc)
            return failure, _message(failure, exc, self._denial, self.limits), None
        finally:
            self._deadline = 0.0  # stray callbacks between runs interrupt at once
            try:
                cursor.close()
            except Exception:  # noqa: BLE001
                pass

    def _fetch(self, cursor: sqlite3.Cursor) -> tuple[str | None, str, list[tuple] | None]:
        """Fetch row by row so memory stays bounded by the caps."""
        max_rows = self.limits.max_rows
        byte_budget = RESULT_BYTES_FACTOR * self.limits.max_value_bytes
        rows: list[tuple] = []
        used = 0
        for row in cursor:
            if len(rows) >= max_rows:
                return "too_many_rows", f"too many rows: more than {max_rows}", None
            for value in row:
                if isinstance(value, (str, bytes)):
                    used += len(value)
            if used > byte_budget:
                return "too_many_rows", f"result too large: more than {byte_budget} bytes", None
            rows.append(row)
            if time.monotonic() > self._deadline:
                raise sqlite3.OperationalError("interrupted")
        return None, f"{len(rows)} rows", rows

    def _classify(self, exc: Exception) -> str:
        text = str(exc).lower()
        if self._denial is not None or "not authorized" in text or "authorization denied" in text:
            return "denied"
        if "interrupted" in text:
            return "timeout"
        if "one statement at a time" in text:
            return "multiple_statements"
        if any(marker in text for marker in _SYNTAX_MARKERS):
            return "syntax_error"
        return "runtime_error"

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Sandbox({str(self.db_path)!r}, {self.limits!r})"


class _Invalid(Exception):
    """Internal: the text cannot even be handed to SQLite."""

    def __init__(self, failure: str, message: str) -> None:
        super().__init__(message)
        self.failure = failure


def _precheck(sql: Any) -> None:
    """Reject what SQLite should never see: non-text, bad encodings, NULs,
    oversized text, and statements that are not queries."""
    if not isinstance(sql, str):
        raise _Invalid("syntax_error", f"SQL must be text, got {type(sql).__name__}")
    if len(sql) > MAX_SQL_BYTES:
        raise _Invalid("syntax_error", f"SQL text longer than {MAX_SQL_BYTES} characters")
    try:
        sql.encode("utf-8")
    except UnicodeEncodeError:
        raise _Invalid("syntax_error", "SQL text is not valid Unicode (lone surrogate)") from None
    if "\x00" in sql:
        raise _Invalid("syntax_error", "SQL text contains a NUL character")
    body = sql[_skip_comments(sql):]
    if not body.strip().strip(";").strip():
        raise _Invalid("empty_output", "no SQL statement")
    word = _FIRST_WORD.match(body)
    keyword = word.group(0).lower() if word else body[:1]
    if keyword not in _QUERY_KEYWORDS:
        raise _Denied(f"denied: only SELECT/WITH/VALUES queries may run, got {keyword.upper()!r}")


def _skip_comments(sql: str) -> int:
    """Index of the first character that is not whitespace or a comment."""
    i, n = 0, len(sql)
    while i < n:
        if sql[i].isspace():
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


def _message(failure: str, exc: Exception, denial: str | None, limits: QueryLimits) -> str:
    text = str(exc) or type(exc).__name__
    if failure == "denied" and denial:
        return f"denied: {denial} ({text})"
    if failure == "timeout":
        return f"timeout: query ran longer than {limits.timeout_s:g} s"
    return f"{failure.replace('_', ' ')}: {text}"


_CACHE: dict[tuple[int, Path, QueryLimits], Sandbox] = {}
_CACHE_LOCK = threading.Lock()


def sandbox_for(db_path: str | Path, limits: QueryLimits = QueryLimits()) -> Sandbox:
    """A process-wide, reused sandbox per (database, limits).

    Opening a connection and loading the schema costs more than running a
    typical Spider query, so scoring many queries reuses connections. The
    pid is part of the key so a forked child never shares its parent's
    connection.
    """
    key = (os.getpid(), Path(db_path).resolve(), limits)
    with _CACHE_LOCK:
        box = _CACHE.get(key)
        if box is None:
            box = _CACHE[key] = Sandbox(key[1], limits)
        return box
