"""Benchmark: in-process Spider scoring vs one subprocess per query.

    python bench/bench_spider_scoring.py [--spider-dir D] [--baseline-sample N] [--no-perturbed]

Scores every scorable Spider dev pair (database present) with
ExecutionAccuracy in this process, using the gold query as the prediction,
and optionally a perturbed prediction. The baseline is the reference
study's design: each query (gold and prediction) runs in a fresh
`python -c` subprocess that opens the database with sqlite3, executes the
query and prints the rows; the parent compares the results. Because the
baseline costs ~0.1 s per pair, it is measured on an evenly spaced sample
and extrapolated to all pairs (the output says so). Both are measured in
the same run, on the same machine.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import platform
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("DEEPEVAL_TELEMETRY_OPT_OUT", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

# One query per process, as in the reference study.
BASELINE_WORKER = """
import sqlite3, sys
conn = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
conn.text_factory = lambda b: b.decode(errors="ignore")
try:
    rows = conn.execute(sys.stdin.read()).fetchall()
except Exception as exc:
    print("ERROR", exc)
else:
    print(repr(rows))
"""


def load_pairs(spider_dir: Path) -> list[tuple[Path, str]]:
    """(database path, gold SQL) for every dev example whose DB exists."""
    examples = json.loads((spider_dir / "dev.json").read_text())
    pairs = []
    for ex in examples:
        db = spider_dir / "database" / ex["db_id"] / f"{ex['db_id']}.sqlite"
        if db.is_file():
            pairs.append((db, ex["query"]))
    return pairs


def perturb(sql: str) -> str:
    """A plausible wrong prediction: flip a sort, negate an equality, or
    truncate the result. Some perturbations stay equivalent (counted)."""
    for pattern, repl in ((r"\bDESC\b", "ASC"), (r"\bASC\b", "DESC"), (r" = ", " != ")):
        if re.search(pattern, sql, flags=re.IGNORECASE):
            return re.sub(pattern, repl, sql, count=1, flags=re.IGNORECASE)
    if not re.search(r"\blimit\b", sql, flags=re.IGNORECASE):
        return f"{sql} LIMIT 1"
    return f"SELECT * FROM ({sql}) LIMIT 0"


def score_in_process(pairs: list[tuple[Path, str]], predictions: list[str]) -> tuple[float, list[float]]:
    from deepeval.test_case import LLMTestCase

    from metrics import ExecutionAccuracy

    cases = [
        LLMTestCase(input="q", actual_output=pred, expected_output=gold, metadata={"db_path": str(db)})
        for (db, gold), pred in zip(pairs, predictions)
    ]
    start = time.perf_counter()
    scores = [ExecutionAccuracy().measure(case) for case in cases]
    return time.perf_counter() - start, scores


def run_in_subprocess(db: Path, sql: str) -> list[tuple] | None:
    proc = subprocess.run(
        [sys.executable, "-c", BASELINE_WORKER, str(db)],
        input=sql,
        capture_output=True,
        text=True,
        timeout=60,
    )
    out = proc.stdout.strip()
    if proc.returncode != 0 or out.startswith("ERROR"):
        return None
    try:
        return ast.literal_eval(out)
    except (ValueError, SyntaxError):
        return None


def score_baseline(sample: list[tuple[Path, str]], predictions: list[str]) -> tuple[float, list[float]]:
    from metrics.result_match import gold_orders_rows, results_match

    start = time.perf_counter()
    scores = []
    for (db, gold), pred in zip(sample, predictions):
        gold_rows = run_in_subprocess(db, gold)
        pred_rows = run_in_subprocess(db, pred)
        ok = pred_rows is not None and gold_rows is not None
        scores.append(float(ok and results_match(gold_rows or [], pred_rows or [], gold_orders_rows(gold))))
    return time.perf_counter() - start, scores


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--spider-dir",
        type=Path,
        default=Path(os.environ.get("SPIDER_DIR", REPO / "../shared/data/spider")),
    )
    parser.add_argument("--baseline-sample", type=int, default=100, help="pairs run through the baseline")
    parser.add_argument("--no-perturbed", action="store_true", help="skip the perturbed-prediction pass")
    parser.add_argument("--json", type=Path, help="also write the figures here as JSON")
    args = parser.parse_args()

    spider_dir = args.spider_dir.resolve()
    if not (spider_dir / "dev.json").is_file():
        print(f"Spider data not found at {spider_dir}; pass --spider-dir", file=sys.stderr)
        return 2
    pairs = load_pairs(spider_dir)
    golds = [gold for _, gold in pairs]

    start = time.perf_counter()
    import metrics  # noqa: F401 - deepeval import, paid once per evaluation process

    import_s = time.perf_counter() - start

    cold_s, cold = score_in_process(pairs, golds)
    warm_s, warm = score_in_process(pairs, golds)
    rows: list[tuple[str, int, float, float | None]] = [
        ("in-process, gold as prediction (cold)", len(pairs), cold_s, sum(cold)),
        ("in-process, gold as prediction (warm)", len(pairs), warm_s, sum(warm)),
    ]
    if not args.no_perturbed:
        perturbed = [perturb(g) for g in golds]
        pert_s, pert = score_in_process(pairs, perturbed)
        rows.append(("in-process, perturbed prediction", len(pairs), pert_s, sum(pert)))

    n = min(args.baseline_sample, len(pairs))
    step = len(pairs) / n
    sample_idx = [int(i * step) for i in range(n)]
    sample = [pairs[i] for i in sample_idx]
    base_s, base = score_baseline(sample, [golds[i] for i in sample_idx])
    base_all_s = base_s / n * len(pairs)
    rows.append((f"subprocess per query, measured on {n} pairs", n, base_s, sum(base)))
    rows.append((f"subprocess per query, extrapolated to {len(pairs)}", len(pairs), base_all_s, None))

    speedup = base_all_s / cold_s
    print(
        f"Spider dev scoring: {len(pairs)} scorable pairs in {spider_dir}\n"
        f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}\n"
        f"(import of metrics/deepeval, once per process, not included: {import_s:.2f} s)\n"
    )
    print(f"{'method':<48} {'pairs':>6} {'wall s':>9} {'ms/pair':>8} {'score 1':>8}")
    for name, count, seconds, ones in rows:
        ones_text = "-" if ones is None else f"{int(ones)}"
        print(f"{name:<48} {count:>6} {seconds:>9.2f} {1000 * seconds / count:>8.2f} {ones_text:>8}")
    agree = all(a == b for a, b in zip(base, (cold[i] for i in sample_idx)))
    print(
        f"\nspeed-up (baseline extrapolated / in-process cold): {speedup:.0f}x "
        f"(goal >= 50x: {'met' if speedup >= 50 else 'NOT met'}); "
        f"in-process cold {cold_s:.2f} s (goal <= 2 s: {'met' if cold_s <= 2 else 'NOT met'})\n"
        f"baseline measured on {n} evenly spaced pairs and extrapolated linearly; "
        f"scores agree with in-process on that sample: {agree}"
    )
    if args.json:
        figures = {
            "pairs": len(pairs),
            "import_s": import_s,
            "rows": [{"method": m, "pairs": c, "seconds": s, "score_1": o} for m, c, s, o in rows],
            "speedup_vs_subprocess_per_query": speedup,
            "in_process_cold_s": cold_s,
            "baseline_sample": n,
            "baseline_agrees": agree,
            "cpus": os.cpu_count(),
            "sqlite": sqlite3.sqlite_version,
        }
        args.json.write_text(json.dumps(figures, indent=1) + "\n")
    return 0 if all(s == 1.0 for s in cold) and agree else 1


if __name__ == "__main__":
    sys.exit(main())
