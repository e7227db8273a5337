"""Carry prediction-cache rows between machines and sessions: `tradeoff cache export|import`.

    tradeoff cache export --out docs/study-cpu/partial/base.jsonl.gz --since 2026-12-03T15:55:00Z
    tradeoff cache import docs/study-cpu/partial/*.jsonl.gz

A long run (a model's 972 Spider answers at 4 shots) can outlast a session. The cache already
keeps every finished batch; exporting the rows a run wrote lets them be committed, and a later
session imports them and the same command continues where it stopped. Importing is safe
because a row's key is the hash of everything its value depends on (model weights, prompt,
settings, code version): a row made by other code or another model is never looked up. The
rows keep the provenance records of the processes that wrote them, so a results JSON still
names who computed each case.

The file is gzip'd JSON lines, written deterministically (the same rows give the same bytes):
a header line, then the provenance records, then the rows. A file that does not parse, or
whose counts disagree with its header, is refused whole with one error line.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from tradeoff.config import settings
from tradeoff.errors import UserError
from tradeoff.files import write_bytes_atomic
from tradeoff.inference.cache import PredictionCache

FORMAT = "tradeoff-prediction-cache"
VERSION = 1
_HEX64 = re.compile(r"[0-9a-f]{64}")


def parse_since(text: str) -> float:
    """Unix seconds, or an ISO 8601 time (a trailing Z means UTC)."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UserError(f"--since {text!r}: not a unix time or an ISO 8601 time (2026-12-03T15:55:00Z)") from None
    if moment.tzinfo is None:
        raise UserError(f"--since {text!r}: give a time zone (a trailing Z for UTC)")
    return moment.timestamp()


def dump(rows: list[tuple[Any, ...]], records: list[tuple[str, str]]) -> bytes:
    lines = [json.dumps({"format": FORMAT, "version": VERSION, "records": len(records), "rows": len(rows)})]
    lines += [json.dumps({"record": list(r)}) for r in records]
    lines += [json.dumps({"row": list(r)}) for r in rows]
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as handle:
        handle.write(("\n".join(lines) + "\n").encode("utf-8"))
    return buffer.getvalue()


def _row(value: Any, where: str, known: set[str]) -> tuple[Any, ...]:
    if not isinstance(value, list) or len(value) != 6:
        raise UserError(f"{where}: a row is [key, model_key, case_id, value, created, provenance]")
    key, model_key, case_id, payload, created, provenance = value
    if not isinstance(key, str) or not _HEX64.fullmatch(key):
        raise UserError(f"{where}: the key is not a sha256 hex digest")
    if not isinstance(model_key, str) or not isinstance(case_id, str) or not isinstance(payload, str):
        raise UserError(f"{where}: model_key, case_id and value must be strings")
    try:
        json.loads(payload)
    except ValueError:
        raise UserError(f"{where}: the value is not JSON") from None
    if not isinstance(created, int | float) or isinstance(created, bool):
        raise UserError(f"{where}: created is not a number")
    if provenance is not None and provenance not in known:
        raise UserError(f"{where}: names provenance {provenance!r}, which the file does not hold")
    return (key, model_key, case_id, payload, float(created), provenance)


def load(path: Path) -> tuple[list[tuple[Any, ...]], list[tuple[str, str]]]:
    """The rows and records of an exported file, checked whole before anything is written."""
    try:
        text = gzip.decompress(path.read_bytes()).decode("utf-8")
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: not a gzip'd export ({exc})") from None
    parsed = []
    for number, line in enumerate(text.splitlines(), start=1):
        try:
            parsed.append(json.loads(line))
        except ValueError:
            raise UserError(f"{path}:{number}: not a JSON line") from None
    header = parsed[0] if parsed else None
    if not isinstance(header, dict) or header.get("format") != FORMAT or header.get("version") != VERSION:
        raise UserError(f"{path}: not a {FORMAT} file of version {VERSION}")
    records: list[tuple[str, str]] = []
    rows: list[tuple[Any, ...]] = []
    for number, item in enumerate(parsed[1:], start=2):
        where = f"{path}:{number}"
        if isinstance(item, dict) and set(item) == {"record"}:
            record = item["record"]
            if not (isinstance(record, list) and len(record) == 2 and all(isinstance(x, str) for x in record)):
                raise UserError(f"{where}: a record is [id, JSON text]")
            records.append((record[0], record[1]))
        elif isinstance(item, dict) and set(item) == {"row"}:
            rows.append(_row(item["row"], where, {r[0] for r in records}))
        else:
            raise UserError(f"{where}: neither a record nor a row")
    if len(records) != header.get("records") or len(rows) != header.get("rows"):
        raise UserError(
            f"{path}: holds {len(records)} records and {len(rows)} rows, its header says "
            f"{header.get('records')} and {header.get('rows')} (truncated?)"
        )
    return rows, records


def _cache(path: Path | None) -> PredictionCache:
    return PredictionCache(path or settings.cache_dir() / "predictions.sqlite")


def export(out: Path, since: float, cache_path: Path | None = None) -> int:
    """Write the rows written since `since`; returns how many."""
    cache = _cache(cache_path)
    try:
        rows, records = cache.rows_since(since)
    finally:
        cache.close()
    write_bytes_atomic(out, dump(rows, records))
    print(f"{len(rows)} rows ({len(records)} provenance records) written to {out}")
    return len(rows)


def import_files(files: list[Path], cache_path: Path | None = None) -> int:
    """Add every file's rows (all files checked before any is written); returns how many were new."""
    loaded = [(path, *load(path)) for path in files]
    cache = _cache(cache_path)
    added = 0
    try:
        for path, rows, records in loaded:
            new = cache.add_rows(rows, records)
            added += new
            print(f"{path}: {new} of {len(rows)} rows added ({len(rows) - new} already cached)")
    finally:
        cache.close()
    return added


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tradeoff cache", description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, help="the cache database (default: the project's prediction cache)")
    commands = parser.add_subparsers(dest="command", required=True)
    out = commands.add_parser("export", help="write cache rows to a file that can be committed")
    out.add_argument("--out", required=True, type=Path, help="the file to write (.jsonl.gz)")
    out.add_argument("--since", default="0", help="only rows written at or after this time (ISO 8601 or unix)")
    into = commands.add_parser("import", help="add exported rows to this machine's cache")
    into.add_argument("files", nargs="+", type=Path, help="files written by `tradeoff cache export`")
    args = parser.parse_args(argv)
    if args.command == "export":
        export(args.out, parse_since(args.since), args.cache)
    else:
        import_files(args.files, args.cache)
    return 0
