"""Our MMLU prompt text must be byte-identical to the context lm-eval builds for the same doc."""

from __future__ import annotations

import pytest

from tradeoff.suites.mmlu.data import MMLUQuestion, load_split
from tradeoff.suites.mmlu.lmeval_crosscheck import build_lmeval_task
from tradeoff.suites.mmlu.prompts import continuations, fewshot_prefix, full_prompt, question_text

from tiny_models import mmlu_data_dir

MMLU = mmlu_data_dir()
Q = MMLUQuestion("college_physics", "test", 3, "  What is 2+2? ", ("3", "4", "5", "22"), 1)


def test_letter_prompt_layout():
    dev = [MMLUQuestion("college_physics", "dev", i, f"Q{i}?", ("w", "x", "y", "z"), i % 4) for i in range(5)]
    assert fewshot_prefix("college_physics", dev, 2) == (
        "The following are multiple choice questions (with answers) about college physics.\n\n"
        "Q0?\nA. w\nB. x\nC. y\nD. z\nAnswer: A\n\n"
        "Q1?\nA. w\nB. x\nC. y\nD. z\nAnswer: B\n\n"
    )
    assert question_text(Q) == "What is 2+2?\nA. 3\nB. 4\nC. 5\nD. 22\nAnswer:"
    assert continuations(Q) == (" A", " B", " C", " D")


def test_cloze_prompt_layout():
    dev = [MMLUQuestion("college_physics", "dev", 0, "Q0?", ("w", "x", "y", "z"), 2)]
    assert fewshot_prefix("college_physics", dev, 1, "cloze") == (
        "The following are questions (with answers) about college physics.\n\nQuestion: Q0?\nAnswer: y\n\n"
    )
    assert question_text(Q, "cloze") == "Question: What is 2+2?\nAnswer:"
    assert continuations(Q, "cloze") == (" 3", " 4", " 5", " 22")


def test_shot_count_is_checked():
    dev = load_split(MMLU, "anatomy", "dev")
    with pytest.raises(ValueError, match="only 5 dev questions"):
        fewshot_prefix("anatomy", dev, 6)
    with pytest.raises(ValueError, match="not from subject"):
        fewshot_prefix("virology", dev, 1)
    assert fewshot_prefix("anatomy", dev, 0).endswith("about anatomy.\n\n")


@pytest.mark.parametrize("formulation", ["letter", "cloze"])
@pytest.mark.parametrize("subject", ["abstract_algebra", "high_school_european_history", "world_religions"])
@pytest.mark.parametrize("shots", [5, 4, 0])
def test_full_prompt_equals_lmeval_context(tmp_path, subject, formulation, shots):
    task = build_lmeval_task(MMLU, subject, "test", formulation, cache_dir=str(tmp_path))
    docs = task.test_docs()
    ours_dev = load_split(MMLU, subject, "dev")
    ours_test = load_split(MMLU, subject, "test")
    assert len(docs) == len(ours_test)
    for i in (0, 1, len(ours_test) - 1):
        expected = task.fewshot_context(docs[i], num_fewshot=shots)
        assert full_prompt(ours_test[i], ours_dev, shots, formulation) == expected
        lm_targets = tuple(task.config.target_delimiter + str(c) for c in task.doc_to_choice(docs[i]))
        assert continuations(ours_test[i], formulation) == lm_targets
        assert task.doc_to_target(docs[i]) == ours_test[i].answer
