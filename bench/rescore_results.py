"""Rescore the Spider cases of results files with the current metric and say which verdicts change.

    python bench/rescore_results.py RESULTS.json [...] [--spider-dir DIR]

Each case's recorded raw model output (`props.raw_output`) is scored again by ExecutionAccuracy
against its database; the script prints, per file, how many official/strict/set verdicts and
diagnostics differ from the recorded ones, and lists them (`--json FILE` writes the same
figures as JSON). Exit status 1 when any differs. Use it to show that results computed by an earlier commit still hold under the current scoring code.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from deepeval.test_case import LLMTestCase  # noqa: E402

from metrics.execution_accuracy import ExecutionAccuracy  # noqa: E402

RAW_OUTPUT_CHARS = 2000  # what tests/spider/test_spider.py records; longer outputs cannot be rescored


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, nargs="+")
    parser.add_argument(
        "--spider-dir",
        type=Path,
        default=Path(os.environ.get("SPIDER_DIR", REPO.parent / "shared" / "data" / "spider")),
    )
    parser.add_argument("--json", type=Path, help="also write the per-file figures and changed verdicts here as JSON")
    args = parser.parse_args(argv)
    changed_any = False
    figures: dict[str, dict[str, object]] = {}
    for path in args.results:
        data = json.loads(path.read_text(encoding="utf-8"))
        cases = [
            c for c in data.get("cases", []) if c.get("suite") == "spider" and c.get("outcome") in ("passed", "failed")
        ]
        changed, unchecked = [], 0
        for case in cases:
            props = case.get("props") or {}
            raw = props.get("raw_output")
            if raw is None or len(raw) >= RAW_OUTPUT_CHARS:
                unchecked += 1
                continue
            db = args.spider_dir / "database" / props["db_id"] / f"{props['db_id']}.sqlite"
            metric = ExecutionAccuracy()
            metric.measure(
                LLMTestCase(input="q", actual_output=raw, expected_output=props["gold"], metadata={"db_path": str(db)})
            )
            now = {
                "passed": metric.is_successful(),
                "strict_match": metric.strict_match,
                "set_match": metric.set_match,
                "more_statements": metric.more_statements,
                "prediction": metric.predicted_sql,
            }
            was = {k: props.get(k) for k in now}
            if now != was:
                changed.append((case["case_id"], {k: (was[k], now[k]) for k in now if was[k] != now[k]}))
        changed_any |= bool(changed)
        figures[str(path)] = {
            "rescored": len(cases) - unchecked,
            "unchanged": len(cases) - unchecked - len(changed),
            "too_long_to_rescore": unchecked,
            "changed": {case_id: {k: list(v) for k, v in diff.items()} for case_id, diff in changed},
        }
        print(
            f"{path}: {len(cases) - unchecked - len(changed)} of {len(cases) - unchecked} rescored cases unchanged"
            + (f" ({unchecked} with output too long to rescore)" if unchecked else "")
        )
        for case_id, diff in changed:
            print(f"  {case_id}: {diff}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1, default=str) + "\n", encoding="utf-8")
    return 1 if changed_any else 0


if __name__ == "__main__":
    sys.exit(main())
