"""A file of predictions made elsewhere, scored as a model (`--model predictions:FILE`).

Text-to-SQL systems are compared through prediction files, so the benchmark reads the three
shapes users have and maps each prediction to its Spider dev case:

* lines (`pred.txt`, any name that is neither .csv nor .jsonl): one SQL per line in dev.json
  order, the official evaluator's format; a run's selection (`--limit`, `--spider-db`) picks the
  matching lines. With a `gold.txt` of as many lines beside it (what `tradeoff export-official`
  writes for a selection), lines are matched to dev cases by gold SQL and db_id instead.
* CSV with `question`, `predicted_sql` and `db_id` columns (`gold_sql` may be there too): the
  reference study's file; rows are matched to dev cases by db_id and question (the k-th copy of a
  repeated pair to its k-th case) and rows that match no case are reported, not scored.
* JSON lines, one object per case: `case_id` (`<db_id>-<dev index>`, as in results JSON) and the
  SQL under `prediction`, `predicted_sql` or `sql`.

The file's sha256 is the model's identity. Anything malformed is one error line naming the file
and the line.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from tradeoff.errors import UserError

SQL_KEYS = ("prediction", "predicted_sql", "sql")
CSV_COLUMNS = ("question", "predicted_sql", "db_id")
T = TypeVar("T")


@dataclass(frozen=True)
class DevCase:
    """What a prediction is matched on: the dev case's id, database, question and gold SQL."""

    case_id: str
    db_id: str
    question: str
    gold: str


@dataclass
class Imported:
    """Predicted SQL by case id, and notes on rows of the file that matched no case."""

    sql: dict[str, str] = field(default_factory=dict)
    unmatched: list[str] = field(default_factory=list)


def one_line(sql: str) -> str:
    """A query as the official evaluator's line formats hold it: tabs and newlines flattened."""
    return " ".join(str(sql).replace("\t", " ").split())


def read_spider(path: Path, dev: Sequence[DevCase]) -> Imported:
    """Every prediction of the file, by the dev case it belongs to."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"predictions file {path}: unreadable ({exc})") from None
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _read_csv(path, text, dev)
    if suffix in (".jsonl", ".ndjson"):
        return _read_jsonl(path, text, dev)
    return _read_lines(path, text, dev)


def _lines(text: str) -> list[str]:
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the final newline ends the last line; it does not open another
    return [line.rstrip("\r") for line in lines]


def _read_lines(path: Path, text: str, dev: Sequence[DevCase]) -> Imported:
    lines = _lines(text)
    gold_file = path.with_name("gold.txt")
    if len(lines) != len(dev) and gold_file.is_file() and gold_file != path:
        return _read_exported(path, lines, gold_file, dev)
    if len(lines) != len(dev):
        raise UserError(
            f"predictions file {path}: {len(lines)} lines, but dev.json has {len(dev)} examples "
            "(one SQL per dev example, in dev.json order; or keep the exported gold.txt beside it)"
        )
    return Imported({case.case_id: sql for case, sql in zip(dev, lines)})


def _read_exported(path: Path, lines: list[str], gold_file: Path, dev: Sequence[DevCase]) -> Imported:
    gold = _lines(gold_file.read_text(encoding="utf-8"))
    if len(gold) != len(lines):
        raise UserError(f"predictions file {path}: {len(lines)} lines, but {gold_file} beside it has {len(gold)}")
    by_pair: dict[tuple[str, str], list[str]] = defaultdict(list)
    for case in dev:
        by_pair[(one_line(case.gold), case.db_id)].append(case.case_id)
    out = Imported()
    for number, (gold_line, sql) in enumerate(zip(gold, lines), start=1):
        sql_text, tab, db_id = gold_line.rpartition("\t")
        if not tab:
            raise UserError(f"{gold_file} line {number}: not 'gold SQL<TAB>db_id'")
        ids = by_pair.get((one_line(sql_text), db_id.strip()))
        if not ids:
            raise UserError(f"{gold_file} line {number}: no dev case has this gold SQL on {db_id.strip()!r}")
        out.sql[ids.pop(0)] = sql
    return out


def _read_csv(path: Path, text: str, dev: Sequence[DevCase]) -> Imported:
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        header = reader.fieldnames or []
        missing = [c for c in CSV_COLUMNS if c not in header]
        if missing:
            raise UserError(f"predictions file {path}: no column(s) {missing} (found {header})")
        rows = list(reader)
    except csv.Error as exc:
        raise UserError(f"predictions file {path}: not a readable CSV ({exc})") from None
    by_pair: dict[tuple[str, str], list[str]] = defaultdict(list)
    for case in dev:
        by_pair[(case.db_id, case.question.strip())].append(case.case_id)
    out = Imported()
    for number, row in enumerate(rows, start=2):  # line 1 is the header
        if None in row:
            raise UserError(f"predictions file {path} line {number}: more fields than the header has")
        db_id, question = (row.get("db_id") or "").strip(), (row.get("question") or "").strip()
        ids = by_pair.get((db_id, question))
        if not ids:
            out.unmatched.append(f"line {number} ({db_id}: {question[:60]!r})")
            continue
        out.sql[ids.pop(0)] = row.get("predicted_sql") or ""
    return out


def _read_jsonl(path: Path, text: str, dev: Sequence[DevCase]) -> Imported:
    known = {case.case_id for case in dev}
    out = Imported()
    for number, line in enumerate(_lines(text), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            row = None
        if not isinstance(row, dict):
            raise UserError(f"predictions file {path} line {number}: not a JSON object")
        case_id, sql = row.get("case_id"), next((row[k] for k in SQL_KEYS if k in row), None)
        if not isinstance(case_id, str) or not isinstance(sql, str):
            raise UserError(
                f"predictions file {path} line {number}: needs a string 'case_id' and SQL under one of {list(SQL_KEYS)}"
            )
        if case_id not in known:
            raise UserError(f"predictions file {path} line {number}: unknown case id {case_id!r}")
        if case_id in out.sql:
            raise UserError(f"predictions file {path} line {number}: a second prediction for {case_id}")
        out.sql[case_id] = sql
    return out


def require(found: Mapping[str, T], wanted: Sequence[str], where: str, hint: str) -> dict[str, T]:
    """The entries of the run's cases; a case the file does not cover is an error, not a silent zero."""
    absent = [case_id for case_id in wanted if case_id not in found]
    if absent:
        raise UserError(
            f"{where}: no prediction for {len(absent)} of the {len(wanted)} selected case(s) "
            f"(first: {absent[0]}); {hint}"
        )
    return {case_id: found[case_id] for case_id in wanted}
