"""Write a results JSON's Spider cases for the official evaluator (taoyds/test-suite-sql-eval):
`gold.txt` (gold SQL, TAB, db_id) and `pred.txt` (one predicted SQL per line), the same cases
in dev.json order, so anyone can re-score a run with the official code.

    tradeoff export-official --results out/results/v1.json --out out/official/v1

Newlines and tabs inside a query are flattened to spaces (one query per line is the format).
Only scored cases are written; skipped ones (a missing database) are counted and left out.
An empty prediction stays an empty line, which the official evaluator scores as wrong, as this
benchmark does.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from tradeoff.errors import UserError
from tradeoff.files import read_results_json, write_text_atomic
from tradeoff.models.predictions import one_line


def dev_index(case_id: str) -> int:
    """The case's position in dev.json: the number after the last '-' (concert_singer-0003 -> 3)."""
    tail = case_id.rsplit("-", 1)[-1]
    if not tail.isdigit():
        raise UserError(f"case id {case_id!r} is not a Spider dev case id (<db_id>-<index>)")
    return int(tail)


def export(results: dict[str, Any]) -> tuple[list[str], list[str], int]:
    """(gold lines, pred lines, skipped count) of the scored Spider cases, in dev.json order."""
    cases = [c for c in results.get("cases") or [] if c.get("suite") == "spider"]
    if not cases:
        raise UserError("the results hold no Spider cases to export")
    scored = sorted(
        (c for c in cases if c.get("outcome") in ("passed", "failed")), key=lambda c: dev_index(c["case_id"])
    )
    gold, pred = [], []
    for c in scored:
        props = c.get("props") or {}
        if "gold" not in props or "db_id" not in props:
            raise UserError(f"case {c['case_id']}: no gold SQL or db_id recorded")
        gold.append(f"{one_line(props['gold'])}\t{props['db_id']}")
        pred.append(one_line(props.get("prediction") or ""))
    return gold, pred, len(cases) - len(scored)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", required=True, type=Path, help="a results JSON (out/results/<model>.json)")
    parser.add_argument("--out", required=True, type=Path, help="folder for gold.txt and pred.txt")
    args = parser.parse_args(argv)
    results = read_results_json(args.results, f"--results {args.results}")
    gold, pred, skipped = export(results)
    args.out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.out / "gold.txt", "\n".join(gold) + "\n")
    write_text_atomic(args.out / "pred.txt", "\n".join(pred) + "\n")
    print(f"{len(gold)} cases written to {args.out}/gold.txt and pred.txt ({skipped} skipped cases left out)")
    return 0
