"""Our headline Spider verdict against the official test-suite evaluator's, case by case.

    python bench/official_crosscheck.py --official-dir PATH [--spider-dir DIR] [--json OUT.json]

PATH is a checkout of taoyds/test-suite-sql-eval (its `exec_eval.py` and `parse.py` are
imported from there, never copied here). Every scorable dev gold query is paired with
predictions that probe the conventions -- the gold itself, DISTINCT added or removed, ORDER BY
reversed, LIMIT dropped, the outer SELECT list reversed, split comparison operators -- plus the
real model predictions of any results JSON given with --results (except those our sandbox denied:
the official code would execute them, writes included, against the databases). Each pair is scored by
`eval_exec_match(..., plug_value=False, keep_distinct=False)` exactly as `evaluation.py --etype
exec` calls it (the prediction flattened to one line, " value " -> " 1 ") and by our
ExecutionAccuracy; the script prints how many verdicts agree and lists every disagreement.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from deepeval.test_case import LLMTestCase  # noqa: E402

from metrics.execution_accuracy import ExecutionAccuracy  # noqa: E402

_SELECT_DISTINCT = re.compile(r"^\s*select\s+distinct\s+", re.IGNORECASE)
_SELECT = re.compile(r"^\s*select\s+", re.IGNORECASE)
_DIRECTION = re.compile(r"\b(asc|desc)\b", re.IGNORECASE)
_LIMIT = re.compile(r"\s+limit\s+\d+\s*;?\s*$", re.IGNORECASE)


def variants(gold: str) -> dict[str, str]:
    """Predictions derived from a gold query, each probing one convention."""
    out = {"gold": gold}
    if _SELECT_DISTINCT.match(gold):
        out["distinct removed"] = _SELECT_DISTINCT.sub("SELECT ", gold, count=1)
    else:
        out["distinct added"] = _SELECT.sub("SELECT DISTINCT ", gold, count=1)
    if _DIRECTION.search(gold):
        out["order reversed"] = _DIRECTION.sub(lambda m: "DESC" if m.group(1).lower() == "asc" else "ASC", gold)
    elif re.search(r"order\s+by", gold, re.IGNORECASE):
        out["order reversed"] = re.sub(
            r"(order\s+by\s+[^;]*?)(\s+limit\b|\s*;?\s*$)", r"\1 DESC\2", gold, count=1, flags=re.IGNORECASE
        )
    if _LIMIT.search(gold):
        out["limit dropped"] = _LIMIT.sub("", gold)
    if ">=" in gold or "<=" in gold:
        out["operator split"] = gold.replace(">=", "> =").replace("<=", "< =")
    try:
        import sqlglot

        tree = sqlglot.parse_one(gold, read="sqlite")
        if isinstance(tree, sqlglot.exp.Select) and len(tree.expressions) > 1:
            tree.set("expressions", list(reversed(tree.expressions)))
            out["columns reversed"] = tree.sql(dialect="sqlite")
    except Exception:  # noqa: BLE001 - a gold sqlglot cannot read simply gets no such variant
        pass
    return out


def flatten(sql: str) -> str:
    """How a prediction sits in the official pred.txt: one line, no tabs."""
    return " ".join(sql.split())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--official-dir", type=Path, required=True, help="checkout of taoyds/test-suite-sql-eval")
    parser.add_argument(
        "--spider-dir",
        type=Path,
        default=Path(os.environ.get("SPIDER_DIR", REPO.parent / "shared" / "data" / "spider")),
    )
    parser.add_argument("--results", type=Path, nargs="*", default=[], help="results JSON files with model predictions")
    parser.add_argument("--limit", type=int, help="only the first N dev examples")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    if not (args.official_dir / "exec_eval.py").is_file():
        print(f"error: no exec_eval.py in {args.official_dir}", file=sys.stderr)
        return 2
    sys.path.insert(0, str(args.official_dir))
    from exec_eval import eval_exec_match  # type: ignore[import-not-found]

    dev = json.loads((args.spider_dir / "dev.json").read_text(encoding="utf-8"))[: args.limit]
    pairs: list[tuple[str, str, str, str]] = []  # (case id, kind, gold, prediction)
    for i, ex in enumerate(dev):
        if (args.spider_dir / "database" / ex["db_id"] / f"{ex['db_id']}.sqlite").is_file():
            pairs += [(f"{ex['db_id']}-{i:04d}", kind, ex["query"], p) for kind, p in variants(ex["query"]).items()]
    by_id = {f"{ex['db_id']}-{i:04d}": ex for i, ex in enumerate(dev)}
    denied = 0  # predictions our sandbox refused: the official code would run them, writes and all
    for path in args.results:
        for case in json.loads(path.read_text(encoding="utf-8")).get("cases", []):
            props = case.get("props") or {}
            if case.get("suite") != "spider":
                continue
            if props.get("failure") == "denied":
                denied += 1
            elif case.get("case_id") in by_id and props.get("prediction"):
                pairs.append(
                    (case["case_id"], f"model ({path.stem})", by_id[case["case_id"]]["query"], props["prediction"])
                )

    agree, disagreements, official_crashes = 0, [], []
    kinds: dict[str, list[int]] = {}
    for case_id, kind, gold, pred in pairs:
        ex = by_id[case_id]
        db = args.spider_dir / "database" / ex["db_id"] / f"{ex['db_id']}.sqlite"
        p_str = flatten(pred).replace(" value ", " 1 ")  # evaluation.py's reading of pred.txt
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                official = eval_exec_match(str(db), p_str, gold.strip(), False, False, False)
        except Exception as exc:  # noqa: BLE001 - the official code raises on some inputs
            official_crashes.append({"case": case_id, "kind": kind, "prediction": pred, "error": repr(exc)})
            continue
        metric = ExecutionAccuracy()
        ours = metric.measure(
            LLMTestCase(input="q", actual_output=flatten(pred), expected_output=gold, metadata={"db_path": str(db)})
        )
        tally = kinds.setdefault(kind, [0, 0])
        tally[1] += 1
        if int(ours) == int(official):
            agree += 1
            tally[0] += 1
        else:
            disagreements.append(
                {
                    "case": case_id,
                    "kind": kind,
                    "gold": gold,
                    "prediction": pred,
                    "official": int(official),
                    "ours": int(ours),
                    "reason": metric.reason,
                }
            )
    compared = agree + len(disagreements)
    figures: dict[str, Any] = {
        "pairs": len(pairs),
        "compared": compared,
        "agree": agree,
        "by_kind": {k: {"agree": a, "compared": n} for k, (a, n) in kinds.items()},
        "disagreements": disagreements,
        "official_crashes": official_crashes,
        "model_predictions_denied_not_compared": denied,
    }
    print(
        f"{agree}/{compared} verdicts equal to the official evaluator's ({len(official_crashes)} pairs where it raised;"
        f" {denied} model predictions our sandbox denied not sent to it)"
    )
    for kind, (a, n) in kinds.items():
        print(f"  {kind:<22} {a}/{n}")
    for d in disagreements:
        print(
            f"  DIFFERENT {d['case']} [{d['kind']}] official {d['official']} ours {d['ours']}: {d['prediction']} ({d['reason']})"
        )
    for c in official_crashes:
        print(f"  official evaluator raised on {c['case']} [{c['kind']}]: {c['error']}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))
    return 0 if not disagreements else 1


if __name__ == "__main__":
    sys.exit(main())
