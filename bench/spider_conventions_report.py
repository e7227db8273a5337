"""Where the official evaluator's conventions and the queries-as-written ("strict") verdict part ways
on the real dev set, and which deviations from the official evaluator remain.

    python bench/spider_conventions_report.py [--spider-dir DIR] [--json OUT.json]

For every scorable dev gold query it reports: whether the official rewrite changes its text
(DISTINCT removed, operators joined), whether its result changes, and whether the two ORDER BY
rules (the official substring test, our outermost-query test) disagree. The figures in
docs/spider-official.md come from this command.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from metrics.execution_accuracy import gold_limits  # noqa: E402
from metrics.official import official_gold, official_orders_rows  # noqa: E402
from metrics.result_match import gold_orders_rows, results_match  # noqa: E402
from metrics.sandbox import QueryLimits, sandbox_for  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--spider-dir",
        type=Path,
        default=Path(os.environ.get("SPIDER_DIR", REPO.parent / "shared" / "data" / "spider")),
    )
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    dev_path = args.spider_dir / "dev.json"
    if not dev_path.is_file():
        print(f"error: no dev.json under {args.spider_dir}", file=sys.stderr)
        return 2
    dev = json.loads(dev_path.read_text(encoding="utf-8"))
    limits = gold_limits(QueryLimits())
    counts: Counter[str] = Counter()
    order_examples: list[str] = []
    result_examples: list[str] = []
    for i, ex in enumerate(dev):
        db = args.spider_dir / "database" / ex["db_id"] / f"{ex['db_id']}.sqlite"
        if not db.is_file():
            counts["unscorable (missing database)"] += 1
            continue
        counts["scorable"] += 1
        gold = ex["query"].strip()
        rewritten = official_gold(gold)
        official_order, strict_order = official_orders_rows(rewritten), gold_orders_rows(gold)
        if "distinct" in gold.lower():
            counts["gold mentions DISTINCT"] += 1
        if rewritten != gold:
            counts["official rewrite changes the gold text"] += 1
            box = sandbox_for(db, limits)
            a, b = box.run(gold), box.run(rewritten)
            if a.rows is None or b.rows is None:
                counts["rewritten gold fails"] += 1
            elif not results_match(a.rows, b.rows, official_order):
                counts["official rewrite changes the gold result"] += 1
                if len(result_examples) < 5:
                    result_examples.append(f"{ex['db_id']}-{i:04d}: {gold}")
        if official_order != strict_order:
            counts["ORDER BY rules disagree"] += 1
            order_examples.append(
                f"{ex['db_id']}-{i:04d} (substring {official_order}, outermost {strict_order}): {gold}"
            )
    figures = {
        "counts": dict(counts),
        "order_rule_disagreements": order_examples,
        "gold_result_changed_examples": result_examples,
    }
    width = max(len(k) for k in counts)
    for key, value in counts.items():
        print(f"{key:<{width}}  {value}")
    print("\nORDER BY rule disagreements (the official verdict uses the substring rule):")
    for line in order_examples:
        print(f"  {line}")
    print("\nexamples of gold results the official rewrite changes:")
    for line in result_examples:
        print(f"  {line}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
