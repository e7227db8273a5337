"""Under `deepeval test run` the Spider cases also go through deepeval's test API: its results
table and results folder hold them, serially and with `-n 2`, and the benchmark's own verdicts
and results JSON are unchanged (a predictions file is the model: no weights needed)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tradeoff.config.experiments import slug

from synthetic_spider import make_spider_dir

REPO = Path(__file__).resolve().parents[2]
PREDICTED = ["SELECT count(*) FROM item", "SELECT city FROM shop", "SELECT 1", "SELECT city FROM shop"]
DEEPEVAL = shutil.which("deepeval", path=str(Path(sys.executable).parent)) or shutil.which("deepeval")

pytestmark = pytest.mark.skipif(DEEPEVAL is None, reason="deepeval's CLI is not installed")


def _deepeval_run(tmp_path: Path, *options: str, table: str = "Pass Rate: 66.67% | Passed: 2 | Failed: 1") -> str:
    """`deepeval test run tests/spider OPTIONS` on the synthetic Spider with a predictions file;
    its output, after checking deepeval's table shows the three scorable cases."""
    spider = tmp_path / "spider"
    if not spider.exists():
        make_spider_dir(spider)
    pred = tmp_path / "pred.txt"
    pred.write_text("\n".join(PREDICTED) + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "TRADEOFF_", "DEEPEVAL"))}
    env.update(
        DEEPEVAL_TELEMETRY_OPT_OUT="1",
        DEEPEVAL_RESULTS_FOLDER=str(tmp_path / "deepeval-results"),
        DEEPEVAL_CACHE_FOLDER=str(tmp_path / ".deepeval"),
        TRADEOFF_CACHE_DIR=str(tmp_path / "cache"),
    )
    cmd = [DEEPEVAL, "test", "run", "tests/spider", *options]
    cmd += ["--model", f"predictions:{pred}", "--spider-dir", str(spider), "--results-dir", str(tmp_path / "out")]
    cmd += ["-p", "no:cacheprovider"]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    text = proc.stdout + proc.stderr
    assert "No test cases found" not in text, text[-3000:]
    assert table in text, text[-3000:]
    return text


def _saved_cases(tmp_path: Path) -> list[tuple[str, bool]]:
    runs = sorted((tmp_path / "deepeval-results").glob("test_run_*.json"), key=lambda p: p.stat().st_mtime)
    cases = json.loads(runs[-1].read_text())["testCases"]
    return sorted((c["name"], c["success"]) for c in cases)


EXPECTED = [("shop-0000", True), ("shop-0001", False), ("shop-0003", True)]


@pytest.mark.parametrize("workers", [None, "2"])
def test_deepeval_test_run_shows_every_case_in_its_table_and_folder(tmp_path, workers):
    _deepeval_run(tmp_path, *(["-n", workers] if workers else []))
    assert _saved_cases(tmp_path) == EXPECTED
    pred = tmp_path / "pred.txt"
    results = json.loads((tmp_path / "out" / "results" / f"{slug(f'predictions:{pred}')}.json").read_text())
    outcomes = {c["case_id"]: c["outcome"] for c in results["cases"] if c["suite"] == "spider"}
    assert outcomes == {"shop-0000": "passed", "shop-0001": "failed", "gone-0002": "skipped", "shop-0003": "passed"}


def test_deepeval_cache_holds_the_cases_and_a_second_run_reads_it(tmp_path):
    """`deepeval test run -c`: the first run writes deepeval's cache (each case's metric result);
    the second takes deepeval's verdicts from it, which a tampered entry shows, while the
    benchmark's own verdicts (results JSON) stay its own."""
    _deepeval_run(tmp_path, "-c")
    cache_file = tmp_path / ".deepeval" / ".deepeval-cache.json"
    cache = json.loads(cache_file.read_text())
    entries = cache["test_cases_lookup_map"]
    assert len(entries) == 3
    metrics = [m["metric_data"] for entry in entries.values() for m in entry["cached_metrics_data"]]
    assert sorted(m["success"] for m in metrics) == [False, True, True]
    assert {m["name"] for m in metrics} == {"Execution Accuracy"}
    for metric in metrics:  # tamper: deepeval's cache now says the wrong case passed
        metric.update(success=True, score=1.0)
    cache_file.write_text(json.dumps(cache))
    _deepeval_run(tmp_path, "-c", table="Pass Rate: 100.0% | Passed: 3 | Failed: 0")
    pred = tmp_path / "pred.txt"
    results = json.loads((tmp_path / "out" / "results" / f"{slug(f'predictions:{pred}')}.json").read_text())
    assert {c["case_id"]: c["outcome"] for c in results["cases"] if c["suite"] == "spider"}["shop-0001"] == "failed"
