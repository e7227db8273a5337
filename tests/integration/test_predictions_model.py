"""A file of predictions made elsewhere is scored as a model (`--model predictions:FILE`), in each
format users have, end to end through pytest in a subprocess on a synthetic Spider directory
(4 dev cases, one on a missing database); and a run exported for the official evaluator, then
read back, gives the same verdicts."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tradeoff.config.experiments import slug

from synthetic_spider import make_spider_dir
from tiny_models import mmlu_data_dir

REPO = Path(__file__).resolve().parents[2]
GOLD = {
    "shop-0000": "SELECT count(*) FROM item",
    "shop-0001": "SELECT name FROM item",
    "shop-0003": "SELECT city FROM shop",
}
# right, wrong, (missing database), right
PREDICTED = ["SELECT count(*) FROM item", "SELECT city FROM shop", "SELECT 1", "SELECT city FROM shop"]
EXPECTED = {"shop-0000": "passed", "shop-0001": "failed", "gone-0002": "skipped", "shop-0003": "passed"}
QUESTIONS = ["How many items?", "Names of items?", "How many t?", "Cities?"]
DBS = ["shop", "shop", "gone", "shop"]


@pytest.fixture(scope="module")
def spider(tmp_path_factory) -> Path:
    return make_spider_dir(tmp_path_factory.mktemp("predictions") / "spider")


def run(spider: Path, tmp: Path, model: str, *extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "TRADEOFF_"))}
    env.update(
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        DEEPEVAL_TELEMETRY_OPT_OUT="1",
        TRADEOFF_CACHE_DIR=str(tmp / "cache"),
        TRADEOFF_CONVERTED_DIR=str(tmp / "converted"),
    )
    cmd = [sys.executable, "-m", "pytest", "tests/spider", "tests/mmlu", "-p", "no:cacheprovider", "-n", "0", "-q"]
    cmd += ["--model", model, "--spider-dir", str(spider), "--results-dir", str(tmp / "out")]
    cmd += ["--mmlu-dir", str(mmlu_data_dir()), "--mmlu-subjects", "anatomy", "--mmlu-limit", "2", *extra]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


def outcomes(tmp: Path, label: str) -> tuple[dict[str, str], dict]:
    results = json.loads((tmp / "out" / "results" / f"{label}.json").read_text())
    spider = {c["case_id"]: c["outcome"] for c in results["cases"] if c["suite"] == "spider"}
    return spider, results


def one_error(proc: subprocess.CompletedProcess, needle: str) -> None:
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "Traceback" not in text, text[-3000:]
    lines = [line for line in text.splitlines() if line.startswith(("ERROR:", "error:"))]
    assert len(lines) == 1 and needle in lines[0], text[-3000:]


def test_a_pred_txt_in_dev_order_is_scored_and_mmlu_is_skipped_with_the_reason(spider, tmp_path):
    pred = tmp_path / "pred.txt"
    pred.write_text("\n".join(PREDICTED) + "\n")
    html = tmp_path / "report.html"
    proc = run(spider, tmp_path, f"predictions:{pred}", f"--html={html}", "--self-contained-html")
    assert proc.returncode in (0, 1), proc.stdout[-3000:] + proc.stderr[-3000:]  # 1: a wrong answer fails its case
    got, results = outcomes(tmp_path, slug(f"predictions:{pred}"))
    assert got == EXPECTED
    wrong = next(c["props"] for c in results["cases"] if c["case_id"] == "shop-0001")
    assert wrong["failure"] == "wrong_result"
    assert wrong["gold_rows_head"] == [["'pen'"], ["'book'"], ["'cup'"]]
    assert wrong["predicted_rows_head"] == [["'Oslo'"], ["'Rome'"]]
    page = html.read_text()  # pytest-html's per-case extras: error category and first rows
    assert "Error category" in page and "wrong_result" in page and "Oslo" in page
    assert results["identity"]["predictions_sha256"] and results["identity"]["kind"] == "predictions"
    mmlu = [c for c in results["cases"] if c["suite"] == "mmlu"]
    assert mmlu and all(c["outcome"] == "skipped" and "predictions file" in c["skip_reason"] for c in mmlu)


def test_the_reference_study_csv_is_matched_by_question_and_unmatched_rows_are_reported(spider, tmp_path):
    path = tmp_path / "study.csv"
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["question", "predicted_sql", "gold_sql", "db_id"])
        rows = list(zip(QUESTIONS, PREDICTED, [*GOLD.values(), ""], DBS))
        for question, predicted, gold, db in reversed(rows):  # order does not matter
            writer.writerow([question, predicted, gold, db])
        writer.writerow(["A question of no dev case?", "SELECT 2", "SELECT 2", "shop"])
    proc = run(spider, tmp_path, f"predictions:{path}")
    assert proc.returncode in (0, 1), proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "1 row(s) match no dev case" in proc.stderr and "A question of no dev case" in proc.stderr
    got, results = outcomes(tmp_path, slug(f"predictions:{path}"))
    assert got == EXPECTED
    assert len(results["data"]["predictions_unmatched_rows"]) == 1


def test_export_for_the_official_evaluator_then_reimport_gives_the_same_verdicts(spider, tmp_path):
    lines = tmp_path / "first.jsonl"
    lines.write_text("".join(json.dumps({"case_id": c, "prediction": p}) + "\n" for c, p in zip(EXPECTED, PREDICTED)))
    assert run(spider, tmp_path, f"predictions:{lines}").returncode in (0, 1)
    first, results = outcomes(tmp_path, slug(f"predictions:{lines}"))
    exported = tmp_path / "official"
    written = tmp_path / "out" / "results" / f"{slug(f'predictions:{lines}')}.json"
    cmd = [sys.executable, "-m", "tradeoff.cli", "export-official", "--results", str(written), "--out", str(exported)]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert len((exported / "pred.txt").read_text().splitlines()) == 3  # the scored cases; gold.txt beside
    again = tmp_path / "again"
    again.mkdir()
    assert run(spider, again, f"predictions:{exported / 'pred.txt'}").returncode in (0, 1)
    second, _ = outcomes(again, slug(f"predictions:{exported / 'pred.txt'}"))
    assert second == first == EXPECTED


@pytest.mark.parametrize(
    ("name", "text", "needle"),
    [
        ("pred.txt", "SELECT 1\nSELECT 2\nSELECT 3\n", "3 lines, but dev.json has 4"),
        ("p.jsonl", '{"case_id": "shop-0099", "prediction": "SELECT 1"}\n', "unknown case id 'shop-0099'"),
        ("p.jsonl", "not json\n", "line 1: not a JSON object"),
        ("p.csv", "question,sql\nHow many items?,SELECT 1\n", "no column(s) ['predicted_sql', 'db_id']"),
        ("short.jsonl", '{"case_id": "shop-0000", "prediction": "SELECT 1"}\n', "no prediction for 2 of the 3"),
    ],
)
def test_malformed_files_are_one_error_line(spider, tmp_path, name, text, needle):
    path = tmp_path / name
    path.write_text(text)
    one_error(run(spider, tmp_path, f"predictions:{path}"), needle)


@pytest.mark.slow
@pytest.mark.parametrize("formulation", ["letter", "cloze"])
def test_lm_eval_log_samples_are_read_as_the_predictions_models_mmlu_scores(spider, tmp_path, formulation):
    """lm-eval's own per-sample output for a tiny model, written as `--log_samples` writes it,
    gives the MMLU verdicts this benchmark's scorer gives that model."""
    from tradeoff.suites.mmlu.data import load_split
    from tradeoff.suites.mmlu.lmeval_crosscheck import run_lmeval
    from tradeoff.suites.mmlu.prompts import fewshot_prefix
    from tradeoff.suites.mmlu.scoring import score_questions

    from tiny_models import mistral_tokenizer, tiny_mistral

    model, tokenizer = tiny_mistral(), mistral_tokenizer()
    mmlu = mmlu_data_dir()
    run_ = run_lmeval(model, tokenizer, mmlu, ["anatomy"], "test", 4, 2, formulation)
    folder = tmp_path / "lmeval-samples"
    folder.mkdir()
    task = "mmlu_anatomy" + ("_continuation" if formulation == "cloze" else "")
    with (folder / f"samples_{task}_2026-12-02T10-00-00.000000.jsonl").open("w") as f:
        for sample in run_.samples["anatomy"]:
            f.write(json.dumps(sample, default=str) + "\n")
    questions = load_split(mmlu, "anatomy", "test")[:4]
    ours = score_questions(
        model,
        tokenizer,
        questions,
        fewshot_prefix("anatomy", load_split(mmlu, "anatomy", "dev"), 2, formulation),
        formulation,
    )
    pred = tmp_path / "pred.txt"
    pred.write_text("\n".join(PREDICTED) + "\n")
    extra = [
        "--mmlu-log-samples",
        str(folder),
        "--mmlu-formulation",
        formulation,
        "--mmlu-limit",
        "4",
        "--mmlu-shots",
        "2",
    ]
    proc = run(spider, tmp_path, f"predictions:{pred}", *extra)
    assert proc.returncode in (0, 1), proc.stdout[-3000:] + proc.stderr[-3000:]
    _, results = outcomes(tmp_path, slug(f"predictions:{pred}"))
    got = {c["case_id"]: c["props"]["passed"] for c in results["cases"] if c["suite"] == "mmlu"}
    assert got == {f"{s.case_id}-{formulation}": s.correct for s in ours}
