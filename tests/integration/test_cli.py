"""`tradeoff <command>`: one entry point, one error convention."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tradeoff.cli import COMMANDS

REPO = Path(__file__).resolve().parents[2]


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tradeoff.cli", *args], cwd=REPO, capture_output=True, text=True, timeout=300
    )


def test_usage_lists_every_command():
    proc = cli("--help")
    assert proc.returncode == 0
    assert all(name in proc.stdout for name in COMMANDS)
    assert cli().returncode == 2  # no command at all is a usage error


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_answers_help(name):
    proc = cli(name, "--help")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "usage:" in proc.stdout


def test_unknown_command_and_bad_input_are_one_line(tmp_path):
    unknown = cli("frobnicate")
    assert unknown.returncode == 2 and unknown.stderr.strip().startswith("error: unknown command 'frobnicate'")
    missing = cli("report", "--results-dir", str(tmp_path / "none"))
    assert missing.returncode != 0 and "Traceback" not in missing.stderr
    assert [line for line in missing.stderr.splitlines() if line.startswith("error:")]


@pytest.mark.parametrize(
    "models, message",
    [
        ("base-0shot,nope", "unknown --model 'nope'"),
        ("base-0shot,base-0shot", "names a model twice"),
        ("v1@scale=x", "is not a number"),
        ("base@scale=0.5", "applies to a LoRA adapter"),
    ],
)
def test_sweep_refuses_bad_models_before_any_work(models, message):
    proc = cli("sweep", "--models", models, "--limit", "1")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("error:") and message in proc.stderr
    assert "computing" not in proc.stderr  # nothing started


def test_command_writes_both_files_and_bad_input_is_one_line(tmp_path):
    path = tmp_path / "v1.json"
    case = {
        "suite": "spider",
        "case_id": "a-0001",
        "outcome": "passed",
        "props": {"gold": "SELECT 1", "db_id": "db", "prediction": "SELECT 1"},
    }
    path.write_text(json.dumps({"cases": [case]}))
    done = cli("export-official", "--results", str(path), "--out", str(tmp_path / "o"))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "o" / "gold.txt").read_text() == "SELECT 1\tdb\n"
    assert (tmp_path / "o" / "pred.txt").read_text() == "SELECT 1\n"
    bad = cli("export-official", "--results", str(tmp_path / "missing.json"), "--out", str(tmp_path / "o2"))
    assert bad.returncode == 2 and bad.stderr.startswith("error:") and "Traceback" not in bad.stderr
