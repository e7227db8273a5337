"""Persistent prediction cache: model outputs keyed by everything they depend on.

SQLite in WAL mode, one transaction per batch: an interrupted run keeps every finished
batch and a rerun resumes; concurrent xdist workers read while one writes.
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from pathlib import Path
from typing import Any, Iterable

from tradeoff.errors import UserError

SCHEMA = """
CREATE TABLE IF NOT EXISTS predictions (
    key TEXT PRIMARY KEY,
    model_key TEXT NOT NULL,
    case_id TEXT NOT NULL,
    value TEXT NOT NULL,
    created REAL NOT NULL
)
"""


def prediction_key(model_key: str, prompt: str, settings: dict[str, Any]) -> str:
    payload = json.dumps({"model": model_key, "prompt": prompt, "settings": settings}, sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()


class PredictionCache:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(self.path, timeout=120, isolation_level=None)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.execute(SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise UserError(f"prediction cache {self.path}: {exc}") from None

    def get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        keys = list(keys)
        found: dict[str, Any] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.conn.execute(f"SELECT key, value FROM predictions WHERE key IN ({marks})", chunk)
            found.update((key, json.loads(value)) for key, value in rows)
        return found

    def put_many(self, model_key: str, rows: Iterable[tuple[str, str, Any]]) -> None:
        """rows: (key, case_id, JSON-able value). All or nothing."""
        now = time.time()
        payload = [(key, model_key, case_id, json.dumps(value), now) for key, case_id, value in rows]
        try:
            with self.conn:
                self.conn.execute("BEGIN IMMEDIATE")
                self.conn.executemany("INSERT OR REPLACE INTO predictions VALUES (?, ?, ?, ?, ?)", payload)
        except sqlite3.Error as exc:
            raise UserError(f"prediction cache {self.path}: cannot write ({exc})") from None

    def close(self) -> None:
        self.conn.close()
