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


@pytest.mark.parametrize("workers", [None, "2"])
def test_deepeval_test_run_shows_every_case_in_its_table_and_folder(tmp_path, workers):
    spider = make_spider_dir(tmp_path / "spider")
    pred = tmp_path / "pred.txt"
    pred.write_text("\n".join(PREDICTED) + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "TRADEOFF_", "DEEPEVAL"))}
    env.update(
        DEEPEVAL_TELEMETRY_OPT_OUT="1",
        DEEPEVAL_RESULTS_FOLDER=str(tmp_path / "deepeval-results"),
        DEEPEVAL_CACHE_FOLDER=str(tmp_path / ".deepeval"),
        TRADEOFF_CACHE_DIR=str(tmp_path / "cache"),
    )
    cmd = [DEEPEVAL, "test", "run", "tests/spider", *(["-n", workers] if workers else [])]
    cmd += ["--model", f"predictions:{pred}", "--spider-dir", str(spider), "--results-dir", str(tmp_path / "out")]
    cmd += ["-p", "no:cacheprovider"]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    text = proc.stdout + proc.stderr
    assert "No test cases found" not in text, text[-3000:]
    assert "Pass Rate: 66.67% | Passed: 2 | Failed: 1" in text, text[-3000:]
    (saved,) = (tmp_path / "deepeval-results").glob("test_run_*.json")
    cases = json.loads(saved.read_text())["testCases"]
    assert sorted((c["name"], c["success"]) for c in cases) == [
        ("shop-0000", True),
        ("shop-0001", False),
        ("shop-0003", True),
    ]
    results = json.loads((tmp_path / "out" / "results" / f"{slug(f'predictions:{pred}')}.json").read_text())
    outcomes = {c["case_id"]: c["outcome"] for c in results["cases"] if c["suite"] == "spider"}
    assert outcomes == {"shop-0000": "passed", "shop-0001": "failed", "gone-0002": "skipped", "shop-0003": "passed"}
