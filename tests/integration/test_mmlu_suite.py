"""The MMLU suite's wiring: generated modules in sync, options validated."""

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "mmlu"))

from tradeoff.suites.mmlu.categories import SUBJECTS  # noqa: E402

from generate_modules import expected_modules  # noqa: E402


def test_one_module_per_subject_and_none_drifted():
    on_disk = {p.name: p.read_text() for p in (REPO / "tests" / "mmlu").glob("test_*.py")}
    assert len(on_disk) == len(SUBJECTS) == 57
    assert on_disk == expected_modules(), "run: python tests/mmlu/generate_modules.py"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--mmlu-subjects", "astrology"], "--mmlu-subjects: unknown ['astrology']"),
        (["--mmlu-categories", "arts"], "--mmlu-categories: unknown ['arts']"),
        (["--mmlu-shots", "6"], "--mmlu-shots must be between 0 and 5"),
        (["--mmlu-limit", "0"], "--mmlu-limit must be >= 1"),
        (["--limit", "-3"], "--limit must be >= 1"),
        (["--min-pass-rate", "1.5"], "--min-pass-rate must be between 0 and 1"),
        (["--hardness", "brutal"], "--hardness: unknown level(s) ['brutal']"),
        (["--suite", "mmlu", "--mmlu-dir", "/nonexistent/mmlu"], "MMLU data"),
    ],
)
def test_bad_options_are_one_clear_line(args, message):
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/mmlu", "--co", "-q", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_subject_and_category_selection_collects_only_those_modules():
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--suite",
            "mmlu",
            "--co",
            "-q",
            "--mmlu-categories",
            "stem",
            "--mmlu-subjects",
            "virology,astronomy",
            "--mmlu-split",
            "val",
            "--mmlu-limit",
            "2",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    ids = [line for line in proc.stdout.splitlines() if "::" in line]
    assert ids == [
        "tests/mmlu/test_astronomy.py::test_question[astronomy-val-0000-letter]",
        "tests/mmlu/test_astronomy.py::test_question[astronomy-val-0001-letter]",
    ], proc.stdout + proc.stderr


def test_case_ids_do_not_depend_on_how_many_formulations_a_run_uses():
    def ids(formulation: str) -> list[str]:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "--suite",
                "mmlu",
                "--co",
                "-q",
                "--mmlu-subjects",
                "virology",
                "--mmlu-split",
                "val",
                "--mmlu-limit",
                "2",
                "--mmlu-formulation",
                formulation,
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
        )
        return [line.rsplit("[", 1)[-1].rstrip("]") for line in proc.stdout.splitlines() if "::" in line]

    letter, both = ids("letter"), ids("both")
    assert letter == ["virology-val-0000-letter", "virology-val-0001-letter"]
    assert set(letter) < set(both) and len(both) == 4  # a letter-only run pairs with a run of both
