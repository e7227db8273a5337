"""File helpers the commands share: content hashes, atomic writes (a reader never sees half a file)
and reading a results JSON with one clear error."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_text_atomic(path: Path, text: str) -> None:
    """Write beside the target, then rename over it (atomic on one file system)."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_bytes_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_json_atomic(path: Path, payload: Any, indent: int = 2) -> None:
    write_text_atomic(path, json.dumps(payload, indent=indent, default=str) + "\n")


def read_results_json(path: Path, where: str) -> dict[str, Any]:
    """A results JSON as a dict; unreadable or not an object is one UserError naming `where`."""
    from tradeoff.errors import UserError

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"{where}: {exc}") from None
    if not isinstance(data, dict):
        raise UserError(f"{where}: not a results JSON object")
    return data
