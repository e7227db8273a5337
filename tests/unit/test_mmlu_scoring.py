"""Log-likelihood scoring: exact arithmetic on rigged logits, lm-eval's norms, and a prefix cache
that changes speed but not numbers (tiny random models, real tokenizers, float32)."""

from __future__ import annotations

import math

import pytest
import torch
from cascade_spy import spy_cascade

from tradeoff.suites.mmlu.data import MMLUQuestion, load_split
from tradeoff.suites.mmlu.prompts import continuations, fewshot_prefix, question_text
from tradeoff.suites.mmlu.scoring import QuestionScore, cloze_predictions, plan_rows, score_mmlu, score_questions

from tiny_models import bytelevel_tokenizer, mistral_tokenizer, mmlu_data_dir, rig_output_bias, tiny_llama, tiny_mistral

MMLU = mmlu_data_dir()


def _subject(subject: str, n: int, shots: int = 5, formulation: str = "letter"):
    questions = load_split(MMLU, subject, "test")[:n]
    return questions, fewshot_prefix(subject, load_split(MMLU, subject, "dev"), shots, formulation)


def _reference_lls(model, tokenizer, q: MMLUQuestion, prefix: str, formulation: str) -> list[float]:
    """The definition, one full forward per choice, no batching or cache: sum of log p(cont | ctx)."""
    context = prefix + question_text(q, formulation)
    out = []
    for cont in continuations(q, formulation):
        ctx = tokenizer(context).input_ids
        cont_ids = tokenizer(context + cont).input_ids[len(ctx) :]
        with torch.no_grad():
            logp = model(torch.tensor([ctx + cont_ids])).logits[0].float().log_softmax(-1)
        out.append(sum(float(logp[len(ctx) - 1 + j, t]) for j, t in enumerate(cont_ids)))
    return out


def _lls(scores: list[QuestionScore]) -> torch.Tensor:
    return torch.tensor([s.loglikelihoods for s in scores], dtype=torch.float64)


@pytest.fixture(scope="module")
def mistral():
    return tiny_mistral(), mistral_tokenizer()


# ----------------------------------------------------------------------------- arithmetic


def test_letter_prediction_is_argmax_of_rigged_logits(mistral):
    _, tokenizer = mistral
    model = tiny_mistral(seed=1)
    letter_ids = [tokenizer.convert_tokens_to_ids(f"▁{letter}") for letter in "ABCD"]
    bias = dict(zip(letter_ids, (1.0, 4.0, 2.0, 3.0)))
    rig_output_bias(model, bias)
    questions, prefix = _subject("anatomy", 3)
    scores = score_questions(model, tokenizer, questions, prefix)
    log_z = math.log(model.config.vocab_size - 4 + sum(math.exp(v) for v in bias.values()))
    for q, s in zip(questions, scores):
        assert s.predicted == 1 and s.norm_predicted is None
        assert s.loglikelihoods == pytest.approx([v - log_z for v in bias.values()], abs=1e-4)
        assert s.correct == (q.answer == 1) and s.case_id == q.case_id


def test_cloze_norms_follow_lm_eval_acc_norm_and_acc_bytes():
    # raw argmax 0; per character the 8-letter option wins
    assert cloze_predictions([-2.0, -4.4, -3.0, -7.2], ["a", "bbbb", "cc", "dddddddd"]) == (0, 3, 3)
    # acc_norm divides by characters, acc_bytes by UTF-8 bytes: "ééé" is 3 chars but 6 bytes
    assert cloze_predictions([-3.3, -4.0, -9.0, -9.0], ["ééé", "abcd", "x", "y"]) == (0, 1, 0)
    # ties go to the first index, as np.argmax does
    assert cloze_predictions([-1.0, -1.0, -2.0, -2.0], ["a", "a", "bb", "bb"]) == (0, 0, 0)


def test_headline_metric_is_acc_for_letter_and_acc_norm_for_cloze():
    letter = QuestionScore("x-test-0000", "x", 2, "letter", (-1.0, -2.0, -3.0, -4.0), 0)
    cloze = QuestionScore("x-test-0000", "x", 2, "cloze", (-1.0, -2.0, -3.0, -4.0), 0, 2, 2)
    assert not letter.correct and not letter.acc_correct and letter.acc_norm_correct is None
    assert cloze.correct and not cloze.acc_correct and cloze.acc_norm_correct


# ----------------------------------------------------------------------------- against the definition


@pytest.mark.parametrize("formulation", ["letter", "cloze"])
def test_scores_equal_reference_and_prefix_cache_changes_nothing(mistral, formulation):
    model, tokenizer = mistral
    questions, prefix = _subject("high_school_geography", 7, 4, formulation)
    cached = score_questions(model, tokenizer, questions, prefix, formulation, batch_size=3)
    uncached = score_questions(model, tokenizer, questions, prefix, formulation, batch_size=5, reuse_prefix=False)
    one_by_one = score_questions(model, tokenizer, questions, prefix, formulation, batch_size=1)
    expanded = score_questions(model, tokenizer, questions, prefix, formulation, batch_size=3, cascade=False)
    reference = torch.tensor(
        [_reference_lls(model, tokenizer, q, prefix, formulation) for q in questions], dtype=torch.float64
    )
    for got in (cached, uncached, one_by_one, expanded):
        torch.testing.assert_close(_lls(got), reference, atol=1e-4, rtol=0)
    assert [s.predicted for s in cached] == [s.predicted for s in uncached]
    if formulation == "cloze":
        assert [s.norm_predicted for s in cached] == [s.norm_predicted for s in uncached]


def test_mistral_prefix_is_cached_whole_and_letters_cost_one_row_per_question(mistral):
    _, tokenizer = mistral
    questions, prefix = _subject("abstract_algebra", 6)
    plan = plan_rows(tokenizer, questions, prefix)
    assert plan.cached_tokens == plan.prefix_tokens and len(plan.cached_tokens) > 100
    assert plan.n_rows == len(questions)
    assert all(len(t.tokens) == 1 for row in plan.rows for t in row.targets)
    assert plan_rows(tokenizer, questions, prefix, reuse_prefix=False).cached_tokens == []


def test_boundary_merging_tokenizer_caches_less_and_stays_exact():
    """Byte-level BPE tokenises a trailing "\\n\\n" differently from "\\n\\n" + text: only the
    shared token prefix may be cached, and multi-token " A" continuations need one row each."""
    tokenizer = bytelevel_tokenizer()
    model = tiny_llama(len(tokenizer))
    questions, prefix = _subject("abstract_algebra", 5)
    plan = plan_rows(tokenizer, questions, prefix)
    assert 0 < len(plan.cached_tokens) < len(plan.prefix_tokens)
    assert plan.n_rows > len(questions)
    assert any(len(t.tokens) > 1 for row in plan.rows for t in row.targets)
    cached = score_questions(model, tokenizer, questions, prefix, batch_size=4)
    reference = torch.tensor([_reference_lls(model, tokenizer, q, prefix, "letter") for q in questions])
    torch.testing.assert_close(_lls(cached), reference.double(), atol=1e-4, rtol=0)


# ----------------------------------------------------------------------------- guards and wiring


def test_prompt_longer_than_model_context_is_refused(mistral):
    _, tokenizer = mistral
    model = tiny_mistral()
    model.config.max_position_embeddings = 64
    questions, prefix = _subject("anatomy", 1)
    with pytest.raises(ValueError, match="over the model's 64-token context"):
        score_questions(model, tokenizer, questions, prefix)


def test_training_mode_is_restored(mistral):
    model, tokenizer = mistral
    questions, prefix = _subject("anatomy", 1, 1)
    model.train()
    try:
        score_questions(model, tokenizer, questions, prefix)
        assert model.training
    finally:
        model.eval()


def test_score_mmlu_limits_each_subject_in_file_order(mistral):
    model, tokenizer = mistral
    scores = score_mmlu(model, tokenizer, MMLU, ["virology", "anatomy"], shots=2, limit=3, batch_size=4)
    assert [s.case_id for s in scores] == [f"{s}-test-000{i}" for s in ("virology", "anatomy") for i in range(3)]
    assert all(len(s.loglikelihoods) == 4 and all(v < 0 for v in s.loglikelihoods) for s in scores)


def test_lora_wrapped_model_scores_like_its_merged_weights(mistral):
    """The scorer runs on PEFT LoRA models (the fine-tuned side of the trade-off) unchanged."""
    from peft import LoraConfig, get_peft_model

    _, tokenizer = mistral
    config = LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False)  # non-zero delta
    model = get_peft_model(tiny_mistral(seed=3), config).eval()
    questions, prefix = _subject("virology", 4, 2)
    lora = score_questions(model, tokenizer, questions, prefix, batch_size=3)
    base = score_questions(tiny_mistral(seed=3), tokenizer, questions, prefix)
    assert (_lls(lora) - _lls(base)).abs().max() > 1e-3
    reference = torch.tensor([_reference_lls(model, tokenizer, q, prefix, "letter") for q in questions])
    torch.testing.assert_close(_lls(lora), reference.double(), atol=1e-4, rtol=0)
    merged = model.merge_and_unload()
    torch.testing.assert_close(
        _lls(score_questions(merged, tokenizer, questions, prefix)), _lls(lora), atol=1e-4, rtol=0
    )


@pytest.mark.parametrize("which", ["mistral", "bytelevel"])
def test_two_level_cloze_scoring_equals_the_one_level_scorer(mistral, which, monkeypatch):
    """Each cloze stem computed once for its four options gives the per-option rows' numbers."""
    from tradeoff.suites.mmlu import scoring

    if which == "mistral":
        model, tokenizer = mistral
    else:
        tokenizer = bytelevel_tokenizer()
        model = tiny_llama(len(tokenizer), seed=2)
    calls = []
    real = scoring._score_rows_two_level
    monkeypatch.setattr(scoring, "_score_rows_two_level", lambda *a: calls.append(1) or real(*a))
    for shots in (0, 3):
        questions, prefix = _subject("high_school_geography", 9, shots, "cloze")
        one_level = score_questions(model, tokenizer, questions, prefix, "cloze", batch_size=4, reuse_stems=False)
        assert not calls
        two_level = score_questions(model, tokenizer, questions, prefix, "cloze", batch_size=4)
        assert calls, "the two-level path was not taken"
        calls.clear()
        torch.testing.assert_close(_lls(two_level), _lls(one_level), atol=1e-4, rtol=0)
        assert [(s.predicted, s.norm_predicted, s.bytes_predicted) for s in two_level] == [
            (s.predicted, s.norm_predicted, s.bytes_predicted) for s in one_level
        ]


@pytest.mark.parametrize("formulation", ["letter", "cloze"])
def test_the_prefix_is_attended_by_cascade_and_scores_as_the_expanded_cache(mistral, formulation, monkeypatch):
    """The k-shot prefix is held once and attended by cascade attention for each batch (stems and
    options too, for cloze); the log-likelihoods are those of the prefix expanded over the batch."""
    model, tokenizer = mistral
    questions, prefix = _subject("high_school_geography", 6, 3, formulation)
    shared = spy_cascade(monkeypatch)
    expanded = score_questions(model, tokenizer, questions, prefix, formulation, batch_size=4, cascade=False)
    assert not shared
    cascaded = score_questions(model, tokenizer, questions, prefix, formulation, batch_size=4)
    cached = len(plan_rows(tokenizer, questions, prefix, formulation).cached_tokens)
    assert shared and set(shared) == {cached} and cached > 100
    torch.testing.assert_close(_lls(cascaded), _lls(expanded), atol=1e-4, rtol=0)
    assert [s.predicted for s in cascaded] == [s.predicted for s in expanded]
