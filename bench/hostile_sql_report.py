"""Figures for docs/faults-hostile-sql.md: the hostile-SQL corpus and peak memory.

    .venv/bin/python bench/hostile_sql_report.py [--spider-dir D] [--no-memory]

Scores the corpus of tests/helpers/hostile_sql.py (fresh ExecutionAccuracy per
case, timeout 0.5 s) against a tmp copy of Spider's concert_singer and a
synthetic WAL-mode database, then measures peak RSS of scoring the shapes of
tests/integration/test_resource_bounds.py. Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("DEEPEVAL_TELEMETRY_OPT_OUT", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests" / "helpers")]

from metrics import QueryLimits  # noqa: E402
from metrics.sandbox import HARD_GRACE_S  # noqa: E402

from hostile_sql import generate, make_synthetic_db, score_corpus  # noqa: E402

LIMITS = QueryLimits(timeout_s=0.5)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def changed_bytes(a: bytes, b: bytes) -> int:
    return abs(len(a) - len(b)) + sum(x != y for x, y in zip(a, b))


def run_db(label: str, db: Path, table: str, text_col: str, num_col: str, gold: str) -> dict:
    corpus = generate(table, text_col, num_col, db.parent)
    before, files = db.read_bytes(), sorted(os.listdir(db.parent))
    start = time.perf_counter()
    outcomes = score_corpus(db, gold, corpus, LIMITS)
    wall = time.perf_counter() - start
    after = db.read_bytes()
    return {
        "label": label,
        "n": len(corpus),
        "wall": wall,
        "bound": len(corpus) * (LIMITS.timeout_s + HARD_GRACE_S),
        "crashes": sum(o.crash is not None for o in outcomes),
        "nonzero": sum(o.score != 0.0 for o in outcomes),
        "unexpected": [o.case.name for o in outcomes if o.failure not in o.case.expect],
        "empty_reason": sum(not o.reason.strip() for o in outcomes),
        "categories": Counter(o.failure for o in outcomes),
        "families": Counter(o.case.family for o in outcomes),
        "changed": changed_bytes(before, after),
        "same_sha": sha(db) == hashlib.sha256(before).hexdigest(),
        "new_files": sorted(set(os.listdir(db.parent)) - set(files)),
        "slowest": max(outcomes, key=lambda o: o.elapsed_s),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--spider-dir", default=str(REPO / "../shared/data/spider"))
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--json", type=Path, help="also write the per-database figures here as JSON")
    args = ap.parse_args()
    src = Path(args.spider_dir).resolve() / "database/concert_singer/concert_singer.sqlite"
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "a").mkdir()
        (Path(tmp) / "b").mkdir()
        spider = Path(tmp) / "a" / src.name
        shutil.copyfile(src, spider)
        spider.chmod(0o644)
        synthetic = make_synthetic_db(Path(tmp) / "b" / "people.sqlite")
        runs = [
            run_db(
                "Spider concert_singer (copy)",
                spider,
                "singer",
                "Name",
                "Age",
                "SELECT Name, Country FROM singer ORDER BY Age DESC",
            ),
            run_db(
                "synthetic, WAL mode",
                synthetic,
                "people",
                "name",
                "n",
                "SELECT name, n FROM people ORDER BY n DESC, id",
            ),
        ]
        print(f"## Hostile corpus (timeout {LIMITS.timeout_s} s, hard grace {HARD_GRACE_S} s)\n")
        print(
            "| database | cases | crashes | score != 0 | unexpected category | empty reason | bytes changed | sha256 same | new files | wall s | bound s (n x 0.75) | slowest case |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for r in runs:
            print(
                f"| {r['label']} | {r['n']} | {r['crashes']} | {r['nonzero']} | {len(r['unexpected'])} | "
                f"{r['empty_reason']} | {r['changed']} | {r['same_sha']} | {len(r['new_files'])} | "
                f"{r['wall']:.1f} | {r['bound']:.0f} | {r['slowest'].case.name} {r['slowest'].elapsed_s:.2f} s |"
            )
        if args.json:
            keys = ("label", "n", "crashes", "nonzero", "empty_reason", "changed", "same_sha", "wall", "bound")
            figures = [
                {**{k: r[k] for k in keys}, "unexpected": len(r["unexpected"]), "new_files": len(r["new_files"])}
                | {"categories": {str(c): v for c, v in r["categories"].items()}}
                for r in runs
            ]
            args.json.write_text(json.dumps(figures, indent=1, default=str) + "\n")
        cats = sorted(set().union(*(r["categories"] for r in runs)), key=str)
        print("\n| failure category | " + " | ".join(r["label"] for r in runs) + " |")
        print("|---|" + "---|" * len(runs))
        for c in cats:
            print(f"| {c} | " + " | ".join(str(r["categories"][c]) for r in runs) + " |")
        print("\n| family | cases |\n|---|---|")
        for fam, k in runs[0]["families"].most_common():
            print(f"| {fam} | {k} |")

        if not args.no_memory:
            from test_resource_bounds import SHAPES, measure_peaks

            peaks = measure_peaks(spider, SHAPES)
            base = max(peaks["trivial"]["hwm_kb"], peaks["trivial"]["maxrss_kb"])
            print("\n## Peak RSS of scoring one query (default QueryLimits: max_rows 100000, budget 100 MB)\n")
            print("| query | outcome | VmHWM MiB | ru_maxrss MiB | extra over trivial MiB | s |")
            print("|---|---|---|---|---|---|")
            for name, _, mode in SHAPES:
                p = peaks[name]
                extra = (max(p["hwm_kb"], p["maxrss_kb"]) - base) / 1024
                outcome = p["failure"] or ("ok" if mode == "score" else p["reason"])
                print(
                    f"| {name} | {outcome} | {p['hwm_kb'] / 1024:.0f} | {p['maxrss_kb'] / 1024:.0f} | {extra:.0f} | {p['elapsed_s']:.2f} |"
                )


if __name__ == "__main__":
    main()
