"""Persistent prediction cache: model outputs keyed by everything they depend on.

SQLite in WAL mode, one transaction per batch: an interrupted run keeps every finished
batch and a rerun resumes; concurrent xdist workers read while one writes. SQLite's busy
timeout does not cover every lock it can meet (switching to WAL while another connection
opens, a checkpoint racing a reader), and on a loaded machine those windows are long, so each
operation is also retried on "database is locked" until a generous deadline.
"""

from __future__ import annotations

import functools
import hashlib
import json
import sqlite3
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from tradeoff.errors import UserError

SCHEMA = """
CREATE TABLE IF NOT EXISTS predictions (
    key TEXT PRIMARY KEY,
    model_key TEXT NOT NULL,
    case_id TEXT NOT NULL,
    value TEXT NOT NULL,
    created REAL NOT NULL,
    provenance TEXT
);
CREATE TABLE IF NOT EXISTS provenance (
    id TEXT PRIMARY KEY,
    record TEXT NOT NULL
);
"""


LOCK_WAIT_S = 600.0  # how long a locked cache is waited for before it is reported
_T = TypeVar("_T")


def _is_lock(exc: sqlite3.Error) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def _retrying(operation: Callable[[], _T], deadline_s: float = LOCK_WAIT_S) -> _T:
    """Run `operation`, retrying while SQLite reports a lock, with a growing pause."""
    deadline, pause = time.monotonic() + deadline_s, 0.05
    while True:
        try:
            return operation()
        except sqlite3.OperationalError as exc:
            if not _is_lock(exc) or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(2 * pause, 2.0)


def prediction_key(model_key: str, prompt: str, settings: dict[str, Any]) -> str:
    payload = json.dumps({"model": model_key, "prompt": prompt, "settings": settings}, sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()


class PredictionCache:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(self.path, timeout=120, isolation_level=None)
            _retrying(self._prepare)
        except (sqlite3.Error, OSError) as exc:
            raise UserError(f"prediction cache {self.path}: {exc}") from None

    def _prepare(self) -> None:
        # Switching the journal mode needs an exclusive lock: only ask when it is not WAL yet.
        if str(self.conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
            self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.executescript(SCHEMA)
        columns = {row[1] for row in self.conn.execute("PRAGMA table_info(predictions)")}
        if "provenance" not in columns:  # a cache written before rows recorded who made them
            self.conn.execute("ALTER TABLE predictions ADD COLUMN provenance TEXT")

    def get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        keys = list(keys)
        found: dict[str, Any] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT key, value FROM predictions WHERE key IN ({marks})"
            try:
                rows = _retrying(functools.partial(self._select, query, chunk))
            except sqlite3.Error as exc:
                raise UserError(f"prediction cache {self.path}: cannot read ({exc})") from None
            found.update((key, json.loads(value)) for key, value in rows)
        return found

    def put_many(
        self, model_key: str, rows: Iterable[tuple[str, str, Any]], provenance: dict[str, Any] | None = None
    ) -> None:
        """rows: (key, case_id, JSON-able value), written by the process `provenance` describes
        (tradeoff.inference.provenance.process_record). All or nothing."""
        from tradeoff.inference.provenance import record_id

        now = time.time()
        prov_id = record_id(provenance) if provenance is not None else None
        payload = [(key, model_key, case_id, json.dumps(value), now, prov_id) for key, case_id, value in rows]

        def write() -> None:
            with self.conn:
                self.conn.execute("BEGIN IMMEDIATE")
                if provenance is not None:
                    self.conn.execute(
                        "INSERT OR IGNORE INTO provenance VALUES (?, ?)",
                        (prov_id, json.dumps(provenance, sort_keys=True)),
                    )
                self.conn.executemany(
                    "INSERT OR REPLACE INTO predictions (key, model_key, case_id, value, created, provenance) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    payload,
                )

        try:
            _retrying(write)
        except sqlite3.Error as exc:
            raise UserError(f"prediction cache {self.path}: cannot write ({exc})") from None

    def _select(self, query: str, params: list[Any]) -> list[Any]:
        return self.conn.execute(query, params).fetchall()

    def provenance_ids(self, keys: Iterable[str]) -> dict[str, str | None]:
        """Which process wrote each cached key (an id of `records`), None for rows from before."""
        keys = list(keys)
        found: dict[str, str | None] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            query = f"SELECT key, provenance FROM predictions WHERE key IN ({','.join('?' * len(chunk))})"
            found.update(_retrying(functools.partial(self._select, query, chunk)))
        return found

    def records(self, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        ids = [i for i in dict.fromkeys(ids) if i]
        if not ids:
            return {}
        query = f"SELECT id, record FROM provenance WHERE id IN ({','.join('?' * len(ids))})"
        return {i: json.loads(r) for i, r in _retrying(functools.partial(self._select, query, ids))}

    def rows_since(self, created_after: float) -> tuple[list[tuple[Any, ...]], list[tuple[str, str]]]:
        """Every prediction row written at or after `created_after` (unix time), as stored, and
        the provenance records they name: what `tradeoff export-cache` writes."""
        rows = _retrying(
            functools.partial(
                self._select,
                "SELECT key, model_key, case_id, value, created, provenance FROM predictions "
                "WHERE created >= ? ORDER BY created, key",
                [created_after],
            )
        )
        ids = sorted({r[5] for r in rows if r[5]})
        records = []
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            query = f"SELECT id, record FROM provenance WHERE id IN ({','.join('?' * len(chunk))})"
            records += _retrying(functools.partial(self._select, query, chunk))
        return rows, sorted(records)

    def add_rows(self, rows: list[tuple[Any, ...]], records: list[tuple[str, str]]) -> int:
        """Insert exported rows, all or nothing; a key already here is kept as it is (a key names
        one value, so either copy is the same answer). Returns how many rows were new."""

        def write() -> int:
            with self.conn:
                self.conn.execute("BEGIN IMMEDIATE")
                self.conn.executemany("INSERT OR IGNORE INTO provenance VALUES (?, ?)", records)
                before = self.conn.total_changes
                self.conn.executemany(
                    "INSERT OR IGNORE INTO predictions (key, model_key, case_id, value, created, provenance) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    rows,
                )
                return self.conn.total_changes - before

        try:
            return _retrying(write)
        except sqlite3.Error as exc:
            raise UserError(f"prediction cache {self.path}: cannot write ({exc})") from None

    def close(self) -> None:
        self.conn.close()
