"""The report files: built from fixture results of two models, well-formed, escaped, rendered by a browser."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest

from reports.compare import build_report, main
from reports.comparison.render_markdown import md

FIXTURES = Path(__file__).resolve().parents[1] / "helpers" / "fixtures_results"
REPO = Path(__file__).resolve().parents[2]
HOSTILE = "<script>alert(1)</script>"
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class TagChecker(HTMLParser):
    """Balanced tags, and the page's text as a browser would show it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.starts: Counter = Counter()
        self.images: list[str] = []
        self.text: list[str] = []
        self.doctype = False

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl.lower() == "doctype html"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.starts[tag] += 1
        if tag == "img":
            self.images.append(dict(attrs).get("src") or "")
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}> at {self.getpos()}")
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def check_html(page: str) -> TagChecker:
    checker = TagChecker()
    checker.feed(page)
    checker.close()
    assert checker.doctype
    assert not checker.errors, checker.errors[:5]
    assert not checker.stack, f"unclosed: {checker.stack}"
    assert [checker.starts[t] for t in ("html", "head", "body", "title")] == [1, 1, 1, 1]
    return checker


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report")
    return build_report(FIXTURES, out, training_dir=FIXTURES / "training", resamples=500)


def test_report_files_from_two_models(report):
    assert report.name == "index.html" and report.parent.name == "report"
    assert report.is_file() and (report.parent / "summary.md").is_file()
    assert not [p for p in report.parent.iterdir() if p.name.startswith(".")]  # no temp files left behind


def test_html_is_well_formed_and_self_contained(report):
    page = report.read_text(encoding="utf-8")
    checker = check_html(page)
    # Figures: trade-off plane, MMLU per category, one loss curve; all embedded PNGs.
    assert len(checker.images) == 3
    for src in checker.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]).startswith(b"\x89PNG\r\n\x1a\n")
    assert not re.search(r"""(src|href)=["'](?!data:)""", page)  # nothing fetched from elsewhere


def test_model_output_is_escaped(report):
    page = report.read_text(encoding="utf-8")
    checker = check_html(page)
    assert checker.starts["script"] == 0 and HOSTILE not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert HOSTILE in "".join(checker.text)  # shown to the reader as text


def test_html_shows_the_comparison(report):
    text = " ".join("".join(check_html(report.read_text(encoding="utf-8")).text).split())
    for expected in (
        "+16.67",
        "+50.00%",
        "-12.50",
        "-25.00%",
        "0.625",  # Spider and MMLU changes, McNemar p
        "EX (official)",
        "EX (strict)",
        "EX (set, reference study)",
        "official test-suite evaluator",
        "overall · micro (correct / questions)",
        "macro (mean of subjects)",
        "Fixed by fine-tuning: base wrong, v1 right (2)",
        "Broken by fine-tuning: base right, v1 wrong (1)",
        "missing JOIN (fewer tables)",
        "wrong aggregation",
        "5f0c1e2d3a4b",
        "dev.json 30d64a3fccde",
        "6 scored / 1 skipped / 0 errors",
        "smollm2-135m/v1",
        "0:02:06",
    ):
        assert expected in text, expected


def test_markdown_summary(report):
    summary = (report.parent / "summary.md").read_text(encoding="utf-8")
    assert summary.startswith("# ") and "## v1 (0-shot) vs base (4-shot)" in summary
    row = re.search(
        r"\| MMLU letter overall micro \(correct / questions\) \| 50\.00 \| 37\.50 \| -12\.50 "
        r"\[([-+]\d+\.\d), ([-+]\d+\.\d)\] \| -25\.00% \| 0\.625 \| 16 \|",
        summary,
    )
    assert row, "the paired change with its Newcombe interval"
    low, high = float(row[1]), float(row[2])
    assert -100 <= low < -12.5 < high <= 100  # the interval holds the change
    assert "Spider questions fixed by fine-tuning: 2; broken: 1." in summary
    for block in re.findall(r"(?:^\|.*\|$\n?)+", summary, flags=re.M):
        widths = {len(re.findall(r"(?<!\\)\|", line)) for line in block.splitlines()}
        assert len(widths) == 1, block  # every row of a table has as many cells as its header


def test_markdown_escaping_of_hostile_text():
    cell = md(f"{HOSTILE} | **bold** [x](javascript:alert(1))\n`tick` &amp;")
    assert "<" not in cell and "\n" not in cell
    assert (
        "&lt;script&gt;" in cell
        and "\\|" in cell
        and "\\*\\*bold\\*\\*" in cell
        and "\\[x\\]" in cell
        and "\\`" in cell
    )
    assert "&amp;amp;" in cell
    assert md("x" * 500).endswith("…") and len(md("x" * 500)) == 161


def test_base_only_report_is_valid(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    shutil.copy(FIXTURES / "results" / "base.json", results / "base.json")
    index = build_report(tmp_path, training_dir=tmp_path / "no-models", resamples=100)
    assert index == tmp_path / "report" / "index.html"
    checker = check_html(index.read_text(encoding="utf-8"))
    assert checker.images == [] and "Only base-model results so far" in "".join(checker.text)


def test_cli(tmp_path, capsys):
    assert (
        main(
            [
                "--results-dir",
                str(FIXTURES),
                "--out",
                str(tmp_path),
                "--training-dir",
                str(FIXTURES / "training"),
                "--resamples",
                "100",
            ]
        )
        == 0
    )
    assert str(tmp_path / "report" / "index.html") in capsys.readouterr().out
    assert main(["--results-dir", str(tmp_path / "nothing"), "--out", str(tmp_path)]) == 2
    assert "no results JSON" in capsys.readouterr().err


def test_cli_as_module_honours_the_output_env(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    for name in ("base.json", "v1.json"):
        shutil.copy(FIXTURES / "results" / name, results / name)
    env = {
        **os.environ,
        "TRADEOFF_OUTPUT_DIR": str(tmp_path),
        "TRADEOFF_MODELS_DIR": str(tmp_path / "models"),
        "MPLBACKEND": "Agg",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "reports.compare", "--resamples", "100"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "report" / "index.html").is_file()


def _browser() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if shutil.which(name):
            return shutil.which(name)
    return None


@pytest.mark.skipif(_browser() is None, reason="no chromium/chrome installed (Debian: apt-get install -y chromium)")
def test_renders_in_headless_chromium(report, tmp_path):
    image = pytest.importorskip("PIL.Image")
    shot = tmp_path / "shot.png"
    cmd = [
        _browser(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--screenshot={shot}",
        "--window-size=1280,2000",
        report.resolve().as_uri(),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
    assert shot.is_file(), proc.stderr[-2000:]
    assert shot.stat().st_size > 20_000
    with image.open(shot) as png:
        assert png.size == (1280, 2000)
        rgb = png.convert("RGB")
        colours = rgb.getcolors(maxcolors=1 << 16)
        assert colours is None or len(colours) > 50  # text, tables and plots, not a blank or error page
        histogram = rgb.convert("L").histogram()
        ink = sum(histogram[:128]) / sum(histogram)
        assert 0.005 < ink < 0.5  # dark text and lines on a light page, neither blank nor black


def test_fixture_files_are_small_and_valid():
    for path in (FIXTURES / "results").glob("*.json"):
        data = json.loads(path.read_text())
        assert path.stat().st_size < 40_000 and {"model", "identity", "suites", "cases"} <= data.keys()


def test_markdown_has_a_table_per_mmlu_formulation(tmp_path):
    """Both formulations are reported, each on its own (cloze is where a small model forgets)."""
    results = tmp_path / "results"
    results.mkdir()
    for name in ("base", "v1"):
        run = json.loads((FIXTURES / "results" / f"{name}.json").read_text())
        cloze = []
        for case in run["cases"]:
            if case["props"].get("formulation") == "letter":
                twin = json.loads(json.dumps(case))
                twin["case_id"] = case["case_id"].replace("-letter", "-cloze")
                twin["props"]["formulation"] = "cloze"
                if name == "v1":  # v1 loses every cloze question base had: a visible change
                    twin["outcome"], twin["props"]["passed"] = "failed", False
                cloze.append(twin)
        run["cases"] += cloze
        (results / f"{name}.json").write_text(json.dumps(run))
    summary = (build_report(tmp_path, training_dir=tmp_path / "none", resamples=100).parent / "summary.md").read_text()
    assert summary.index("## MMLU accuracy (letter, micro)") < summary.index("## MMLU accuracy (cloze, micro)")
    assert "| MMLU letter overall micro (correct / questions) | 50.00 | 37.50 |" in summary
    assert "| MMLU cloze overall micro (correct / questions) | 50.00 | 0.00 | **-50.00** [" in summary
    assert "largest drops and gains (cloze)" in summary


def test_training_rows_show_examples_dropped_as_too_long():
    from reports.comparison.render_html import training_data_line

    record = {
        "config": {"training": {"max_seq_length": 1024}},
        "data": {
            "selected": 7000,
            "used": 6821,
            "dropped_longer_than_max_seq_length": 179,
            "dropped_longer_by_database": {"a": 100, "b": 79},
        },
    }
    assert training_data_line(record) == (
        "6821 used of 7000 selected; 179 dropped as longer than 1024 tokens (from 2 databases: a 100, b 79)"
    )
    assert training_data_line({}) == "-"


def test_spider_diagnostics_are_counted_per_model(tmp_path):
    from reports.comparison.build import spider_diagnostics
    from reports.comparison.loading import Run

    cases = [
        {
            "suite": "spider",
            "case_id": "a-0001",
            "outcome": "passed",
            "props": {"more_statements": True, "truncated": False, "vacuous": True},
        },
        {
            "suite": "spider",
            "case_id": "a-0002",
            "outcome": "failed",
            "props": {"more_statements": False, "truncated": True, "vacuous": False},
        },
        {"suite": "spider", "case_id": "a-0003", "outcome": "skipped", "props": {"truncated": True}},
    ]
    run = Run("m", tmp_path / "m.json", {"suites": {}, "cases": cases})
    assert spider_diagnostics(run) == ["1 / 2", "1 / 2", "1 / 2"]  # skipped cases are not scored
    old = Run(
        "o",
        tmp_path / "o.json",
        {"suites": {}, "cases": [{"suite": "spider", "case_id": "a-0001", "outcome": "passed", "props": {}}]},
    )
    assert spider_diagnostics(old) == ["n/a", "n/a", "n/a"]
