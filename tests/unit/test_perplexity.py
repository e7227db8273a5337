"""Rolling log-likelihood and the perplexity summary, checked against direct computations."""

import math

import pytest
import torch

from tradeoff.inference.loglikelihood import prefix_token_id, score_texts, windows
from tradeoff.records import CaseRecord
from tradeoff.suites.perplexity.suite import running_text
from tradeoff.suites.perplexity.summary import summarize

from tiny_models import mistral_tokenizer, tiny_mistral

TEXTS = [
    "The mitochondria is the powerhouse of the cell.",
    "Paris",
    "A much longer text, written so that its tokens span several windows when the context is short, "
    "which is what the rolling scheme must handle without scoring any token twice.",
]


@pytest.fixture(scope="module")
def model_and_tokenizer():
    return tiny_mistral(seed=3), mistral_tokenizer()


def direct(model, tokenizer, text: str) -> tuple[float, int]:
    """Sum of log p(token | all tokens before it), the first from the prefix token: one forward pass."""
    ids = [prefix_token_id(tokenizer), *tokenizer(text, add_special_tokens=False)["input_ids"]]
    with torch.no_grad():
        logprobs = torch.log_softmax(model(torch.tensor([ids[:-1]])).logits.float()[0], dim=-1)
    return float(logprobs.gather(-1, torch.tensor(ids[1:])[:, None]).sum()), len(ids) - 1


def test_score_equals_one_forward_pass_batched_or_not(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    for batch_size in (1, 3):
        scores = score_texts(model, tokenizer, TEXTS, batch_size)
        for text, score in zip(TEXTS, scores):
            ll, n = direct(model, tokenizer, text)
            assert score.tokens == n
            assert score.loglikelihood == pytest.approx(ll, abs=1e-3)


def test_windows_score_every_token_once_with_the_longest_context():
    tokens = list(range(10, 33))  # 23 tokens, prefix 1, windows of at most 8
    spans = windows(tokens, 1, 8)
    targets = []
    for ids, scored in spans:
        assert len(ids) - 1 <= 8  # the input fits the context
        targets += ids[len(ids) - scored :]
        # each input is the longest run of tokens before its last target
        assert len(ids) - 1 == min(8, (([1, *tokens]).index(ids[-1])))
    assert targets == tokens


def test_short_context_uses_windows_and_scores_each_token_once(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    model.config.max_position_embeddings = 8
    try:
        long = TEXTS[2]
        score = score_texts(model, tokenizer, [long], 2)[0]
    finally:
        model.config.max_position_embeddings = 8192
    ids = [prefix_token_id(tokenizer), *tokenizer(long, add_special_tokens=False)["input_ids"]]
    expected = 0.0
    with torch.no_grad():
        for window, scored in windows(ids[1:], ids[0], 8):
            logprobs = torch.log_softmax(model(torch.tensor([window[:-1]])).logits.float()[0], dim=-1)
            targets = torch.tensor(window[1:])[-scored:]
            expected += float(logprobs[-scored:].gather(-1, targets[:, None]).sum())
    assert score.tokens == len(ids) - 1
    assert score.loglikelihood == pytest.approx(expected, abs=1e-3)
    # a short context loses information: the full-context score differs
    assert score.loglikelihood != pytest.approx(direct(model, tokenizer, long)[0], abs=1e-3)


def record(case_id: str, ll: float, tokens: int, words: int, nbytes: int, category: str, outcome: str = "passed"):
    props = {"loglikelihood": ll, "tokens": tokens, "words": words, "bytes": nbytes, "category": category}
    return CaseRecord("perplexity", case_id, outcome, props)


def test_summary_is_token_weighted_with_an_interval_around_it():
    records = [
        record("a", -20.0, 10, 5, 40, "stem"),
        record("b", -30.0, 10, 6, 50, "stem"),
        record("c", -5.0, 5, 3, 20, "other"),
        record("d", float("nan"), 4, 2, 10, "other", outcome="failed"),
    ]
    s = summarize(records)
    o = s["overall"]
    assert o["scored"] == 3 and o["not_finite"] == 1 and o["tokens"] == 25
    assert o["token_perplexity"] == pytest.approx(math.exp(55 / 25))
    assert o["word_perplexity"] == pytest.approx(math.exp(55 / 14))
    assert o["bits_per_byte"] == pytest.approx(55 / 110 / math.log(2))
    lo, hi = o["token_perplexity_ci95"]
    assert lo <= o["token_perplexity"] <= hi and lo < hi
    assert s["by_category"]["stem"]["token_perplexity"] == pytest.approx(math.exp(50 / 20))
    assert s["by_category"]["other"]["scored"] == 1


def test_running_text_is_the_question_and_its_correct_answer():
    from tradeoff.suites.mmlu.data import MMLUQuestion

    q = MMLUQuestion("anatomy", "val", 0, "What is the largest organ? ", ("Liver", " Skin ", "Heart", "Lung"), 1)
    assert running_text(q) == "What is the largest organ?\nSkin"


def test_comparison_report_shows_a_suite_without_a_section_of_its_own(tmp_path):
    """The generic report section: each model's own summary lines of the perplexity suite."""
    import json

    from reports.compare import build_report

    summary = summarize([record("a", -20.0, 10, 5, 40, "stem"), record("b", -30.0, 10, 6, 50, "other")])
    data = {
        "model": "base",
        "identity": {"base": "pypi-gguf:x", "base_sha256": "aaa"},
        "settings": {"perplexity_split": "val"},
        "suites": {"perplexity": summary},
        "cases": [],
    }
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "base.json").write_text(json.dumps(data))
    index = build_report(tmp_path, resamples=50)
    page = index.read_text()
    assert "Suite: perplexity" in page
    assert f"{math.exp(50 / 20):.3f} per token" in page
    assert "## Suite: perplexity" in (index.parent / "summary.md").read_text()
