"""The one place that knows Spider's on-disk layout (the official release layout).

<root>/dev.json  tables.json  train_spider.json  [train_others.json]
<root>/database/<db_id>/<db_id>.sqlite
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from tradeoff.errors import UserError
from tradeoff.files import sha256_file

__all__ = ["SpiderData", "SpiderExample", "sha256_file", "database_set_fingerprint"]

REQUIRED_FILES = ("dev.json", "tables.json")
SQLITE_MAGIC = b"SQLite format 3\x00"


@dataclass(frozen=True)
class SpiderExample:
    index: int  # position in its split file; stable across runs and workers
    db_id: str
    question: str
    query: str
    sql: dict[str, Any] | None = None  # the official parse (dev.json only)

    @property
    def case_id(self) -> str:
        return f"{self.db_id}-{self.index:04d}"


@dataclass(frozen=True)
class Column:
    name: str
    type: str


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]


@dataclass(frozen=True)
class ForeignKey:
    table: str
    column: str
    ref_table: str
    ref_column: str


@dataclass(frozen=True)
class DatabaseSchema:
    db_id: str
    tables: tuple[Table, ...]
    foreign_keys: tuple[ForeignKey, ...]


def _read_json_list(path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"Spider data: missing file {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"Spider data: {path} is not valid JSON ({exc})") from None
    if not isinstance(data, list):
        raise UserError(f"Spider data: {path} must hold a JSON list")
    return data


def _examples(path: Path, with_sql: bool) -> list[SpiderExample]:
    out = []
    for i, row in enumerate(_read_json_list(path)):
        if not isinstance(row, dict) or not all(isinstance(row.get(k), str) for k in ("db_id", "question", "query")):
            raise UserError(f"Spider data: {path} entry {i} lacks string db_id/question/query")
        out.append(SpiderExample(i, row["db_id"], row["question"], row["query"], row.get("sql") if with_sql else None))
    return out


def _schema(entry: dict[str, Any]) -> DatabaseSchema:
    tables = entry["table_names_original"]
    cols = entry["column_names_original"]
    types = entry["column_types"]
    pks: set[int] = set()
    for pk in entry.get("primary_keys", []):
        pks.update(pk if isinstance(pk, list) else [pk])
    built = []
    for t_index, t_name in enumerate(tables):
        members = [(i, c) for i, (t, c) in enumerate(cols) if t == t_index]
        built.append(
            Table(
                t_name,
                tuple(Column(c, types[i]) for i, c in members),
                tuple(c for i, c in members if i in pks),
            )
        )
    fks = tuple(
        ForeignKey(tables[cols[a][0]], cols[a][1], tables[cols[b][0]], cols[b][1])
        for a, b in entry.get("foreign_keys", [])
    )
    return DatabaseSchema(entry["db_id"], tuple(built), fks)


class SpiderData:
    """A Spider directory, validated on construction so a bad path is one clear error."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser()
        if not self.root.is_dir():
            raise UserError(
                f"Spider data directory not found: {self.root} (set --spider-dir or SPIDER_DIR; "
                "`python -m tradeoff.suites.spider.prepare` builds one)"
            )
        missing = [name for name in REQUIRED_FILES if not (self.root / name).is_file()]
        if missing:
            raise UserError(f"Spider data directory {self.root} lacks {', '.join(missing)}")

    @cached_property
    def dev(self) -> list[SpiderExample]:
        return _examples(self.root / "dev.json", with_sql=True)

    def train(self, files: tuple[str, ...] = ("train_spider.json",)) -> list[SpiderExample]:
        out: list[SpiderExample] = []
        for name in files:
            out.extend(_examples(self.root / name, with_sql=False))
        return out

    @cached_property
    def schemas(self) -> dict[str, DatabaseSchema]:
        path = self.root / "tables.json"
        try:
            return {entry["db_id"]: _schema(entry) for entry in _read_json_list(path)}
        except (KeyError, IndexError, TypeError) as exc:
            raise UserError(f"Spider data: {path} is not in the tables.json format ({exc!r})") from None

    def schema(self, db_id: str) -> DatabaseSchema:
        try:
            return self.schemas[db_id]
        except KeyError:
            raise UserError(f"Spider data: database {db_id!r} has no schema in tables.json") from None

    def db_path(self, db_id: str) -> Path:
        return self.root / "database" / db_id / f"{db_id}.sqlite"

    def _db_problem(self, db_id: str) -> tuple[str, str] | None:
        """(kind, detail) of what keeps a database from being scored, or None."""
        path = self.db_path(db_id)
        if not path.is_file():
            return "missing database", f"database {db_id} is missing from {self.root / 'database'}"
        with open(path, "rb") as handle:
            if handle.read(16) != SQLITE_MAGIC:
                return "dataset error (not scored)", f"database file {path} is not SQLite"
        return None

    def missing_db_reason(self, db_id: str) -> str | None:
        """Why a database cannot be scored, or None when it can."""
        problem = self._db_problem(db_id)
        return None if problem is None else problem[1]

    def unscorable_reason(self, db_id: str) -> str | None:
        """The skip reason of a case on this database, or None when it can be scored.

        A missing database file is this copy's known gap (Spider's wta_1); a file that is not
        SQLite or a database without a schema is a dataset error. Either way the case is
        counted apart, never charged to the model.
        """
        problem = self._db_problem(db_id)
        if problem is not None:
            return f"{problem[0]}: {problem[1]}"
        if db_id not in self.schemas:
            return f"dataset error (not scored): database {db_id!r} has no schema in {self.root / 'tables.json'}"
        return None

    def checksums(self, db_ids: list[str]) -> dict[str, str]:
        """sha256 of the split files and of each database used, for the results' provenance.

        A folder holding more than its `<db_id>.sqlite` (the test-suite distilled databases)
        adds one entry per further file, since every one of them decides a verdict.
        """
        sums = {name: sha256_file(self.root / name) for name in REQUIRED_FILES}
        for db_id in sorted(set(db_ids)):
            path = self.db_path(db_id)
            if path.is_file():
                sums[f"database/{db_id}"] = sha256_file(path)
                for other in sorted(path.parent.iterdir()):
                    if ".sqlite" in other.name and other.is_file() and other.name != path.name:
                        sums[f"database/{db_id}/{other.name}"] = sha256_file(other)
        return sums


def database_set_fingerprint(sums: dict[str, str]) -> str:
    """One sha256 for the set of database files a run scored on (names and contents)."""
    entries = sorted((k, v) for k, v in sums.items() if k.startswith("database/"))
    return hashlib.sha256(json.dumps(entries).encode()).hexdigest()
