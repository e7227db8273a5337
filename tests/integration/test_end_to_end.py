"""The real embedded model through the whole Spider pipeline on a few dev cases (slow, run in CI).

Runs the benchmark as a user does (`pytest --model base ...` in a subprocess) with -n 2 and
-n 0 on separate prediction caches, and checks that both give the same per-case results,
that the missing database shows as skipped with its reason, and that reports are written.
The -n 2 run has a busy-loop process beside it, as on a loaded CI machine: no verdict, lock or
timeout may depend on that.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SPIDER = Path(os.environ.get("SPIDER_DIR", REPO.parent / "shared" / "data" / "spider"))

pytestmark = pytest.mark.slow


def run_bench(tmp: Path, cache: Path, workers: str, *extra: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.update(
        TRADEOFF_CACHE_DIR=str(cache),
        TRADEOFF_CONVERTED_DIR=str(REPO / ".cache" / "converted"),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        DEEPEVAL_TELEMETRY_OPT_OUT="1",
    )
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "tests/spider",
        "tests/mmlu",
        "-n",
        workers,
        "--model",
        "base",
        "--spider-dir",
        str(SPIDER),
        "--results-dir",
        str(tmp),
        "--spider-shots",
        "1",
        "--max-new-tokens",
        "48",
        "-q",
        "-p",
        "no:cacheprovider",
        *extra,
    ]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=1200)


@contextlib.contextmanager
def busy_core() -> Iterator[None]:
    """One process spinning on a core for the duration (killed on exit, whatever happens)."""
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield
    finally:
        spinner.kill()
        spinner.wait(timeout=30)


def per_case(results_dir: Path) -> dict[str, tuple]:
    data = json.loads((results_dir / "results" / "base.json").read_text())
    return {c["case_id"]: (c["outcome"], c["props"].get("prediction"), c["props"].get("reason")) for c in data["cases"]}


@pytest.mark.skipif(not (SPIDER / "dev.json").is_file(), reason=f"no Spider data at {SPIDER}")
def test_embedded_model_end_to_end_xdist_matches_serial(tmp_path):
    selection = [
        "--spider-db",
        "concert_singer,wta_1",
        "--limit",
        "6",
        "--mmlu-subjects",
        "virology,abstract_algebra",
        "--mmlu-limit",
        "3",
        "--mmlu-formulation",
        "both",
    ]
    with busy_core():
        parallel = run_bench(tmp_path / "a", tmp_path / "cache_a", "2", *selection)
    assert parallel.returncode == 0, parallel.stdout[-3000:] + parallel.stderr[-3000:]
    assert "Spider execution accuracy — model base" in parallel.stdout
    assert "missing database: database wta_1 is missing" in parallel.stdout
    serial = run_bench(tmp_path / "b", tmp_path / "cache_b", "0", *selection)
    assert serial.returncode == 0, serial.stdout[-3000:] + serial.stderr[-3000:]
    a, b = per_case(tmp_path / "a"), per_case(tmp_path / "b")
    assert a == b
    assert sum(outcome == "skipped" for outcome, _, _ in a.values()) == 3
    assert (
        sum(case.startswith(("virology-", "abstract_algebra-")) for case in a) == 12
    )  # 2 subjects x 3 x 2 formulations
    assert "MMLU (cloze, 5-shot, test) — model base" in parallel.stdout
    assert all(reason for outcome, _, reason in a.values() if outcome in ("passed", "failed"))
    assert (tmp_path / "a" / "report" / "index.html").is_file()  # the comparison report, rebuilt per run
    assert "comparison report: " in parallel.stdout
    html = (tmp_path / "a" / "runs" / "base" / "pytest.html").read_text()
    assert "concert_singer-0000" in html
    # The pytest-free precompute command computes the same cache keys: nothing left to do.
    env = dict(
        os.environ,
        TRADEOFF_CACHE_DIR=str(tmp_path / "cache_a"),
        TRADEOFF_CONVERTED_DIR=str(REPO / ".cache" / "converted"),
    )
    pre = subprocess.run(
        [
            sys.executable,
            "-m",
            "tradeoff.precompute",
            "--model",
            "base",
            "--spider-dir",
            str(SPIDER),
            "--spider-shots",
            "1",
            "--max-new-tokens",
            "48",
            *selection,
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert pre.returncode == 0, pre.stderr[-2000:]
    assert "'model_loaded': False" in pre.stdout and "'cases': 3" in pre.stdout and "'cases': 12" in pre.stdout
    # A rerun reuses the cache: no model load, same results.
    # ... and declares the environment it computed in, which a run on another machine names
    environment = tmp_path / "cache_a" / "environment.json"
    assert json.loads(environment.read_text())["device_type"] == "cpu"
    rerun = run_bench(tmp_path / "c", tmp_path / "cache_a", "0", *selection, "--computed-on", str(environment))
    assert "loading base" not in rerun.stderr
    assert per_case(tmp_path / "c") == a


def test_unknown_model_is_one_clear_line(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/spider", "--model", "no such model!"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode != 0
    assert "unknown --model 'no such model!'" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_untrained_adapter_names_the_training_command(tmp_path):
    env = dict(os.environ, TRADEOFF_MODELS_DIR=str(tmp_path), TRADEOFF_SHIPPED_ADAPTERS=str(tmp_path / "none"))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/spider", "--model", "v1"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode != 0
    assert "run `python train.py --experiment v1`" in proc.stderr


def test_missing_data_dir_is_one_clear_line(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/spider", "--spider-dir", str(tmp_path / "none")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode != 0
    assert "Spider data directory not found" in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_junitxml_without_a_warning_per_case(tmp_path):
    """`pytest --junitxml` (CI's convention): the cases' recorded properties land in the XML and no
    PytestWarning is raised for them (record_property needs junit_family xunit1)."""
    xml = tmp_path / "junit.xml"
    done = run_bench(
        tmp_path,
        tmp_path / "cache",
        "0",
        "--suite",
        "spider",
        "--limit",
        "2",
        f"--junitxml={xml}",
        "-W",
        "error::pytest.PytestWarning",
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    text = xml.read_text()
    assert text.count("<testcase") == 2 and 'name="reason"' in text
