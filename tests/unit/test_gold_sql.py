"""The gold SQL's log-likelihood: equal to the training loss on the same labels, batched or not."""

import pytest
import torch
from cascade_spy import spy_cascade

from tradeoff.inference.loglikelihood import score_labelled

from tiny_models import mistral_tokenizer, tiny_mistral


def test_labelled_loglikelihood_is_the_training_loss():
    model, tokenizer = tiny_mistral(seed=5), mistral_tokenizer()
    sequences = []
    for prompt, answer in (
        ("List all singers.", "SELECT name FROM singer"),
        ("How many concerts are there in total this year?", "SELECT count(*) FROM concert WHERE year = 2014"),
        ("Ages?", "SELECT age FROM singer ORDER BY age DESC"),
    ):
        p = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        a = tokenizer(" " + answer, add_special_tokens=False)["input_ids"]
        sequences.append((p + a, [-100] * len(p) + a))
    for batch_size in (1, 2, 3):
        scores = score_labelled(model, sequences, batch_size)
        for (ids, labels), score in zip(sequences, scores):
            with torch.no_grad():
                loss = model(input_ids=torch.tensor([ids]), labels=torch.tensor([labels])).loss
            assert score.tokens == sum(t != -100 for t in labels)
            assert -score.loglikelihood / score.tokens == pytest.approx(float(loss), abs=1e-4)


def test_nothing_labelled_scores_nothing():
    model = tiny_mistral(seed=5)
    assert score_labelled(model, [([5, 6, 7], [-100, -100, -100])], 1)[0].tokens == 0


def test_a_shared_few_shot_block_is_attended_once_and_scores_as_the_training_loss(monkeypatch):
    """Sequences that all begin with a k-shot block compute it once (cascade attention); each
    score is still the training loss on the whole sequence."""
    from tradeoff.inference import loglikelihood

    model, tokenizer = tiny_mistral(seed=6), mistral_tokenizer()
    block = tokenizer(" ".join(f"Question {i}: list the singers. SQL: SELECT name FROM singer" for i in range(12)))
    block_ids = block["input_ids"]
    assert len(block_ids) >= loglikelihood.MIN_SHARED_PREFIX
    sequences = []
    for prompt, answer in (("List all singers.", "SELECT name FROM singer"), ("Ages?", "SELECT age FROM singer")):
        p = block_ids + tokenizer(prompt, add_special_tokens=False)["input_ids"]
        a = tokenizer(" " + answer, add_special_tokens=False)["input_ids"]
        sequences.append((p + a, [-100] * len(p) + a))
    shared = spy_cascade(monkeypatch)
    for batch_size in (1, 2):
        shared.clear()
        scores = score_labelled(model, sequences, batch_size)
        assert shared and set(shared) == {loglikelihood.shared_prefix_length(sequences)}
        assert min(shared) >= len(block_ids) - 1
        for (ids, labels), score in zip(sequences, scores):
            with torch.no_grad():
                loss = model(input_ids=torch.tensor([ids]), labels=torch.tensor([labels])).loss
            assert -score.loglikelihood / score.tokens == pytest.approx(float(loss), abs=1e-4)
    shared.clear()
    score_labelled(model, sequences[:1], 1)  # one sequence: nothing to share
    assert not shared


def test_the_shared_prefix_stops_before_the_first_scored_position():
    from tradeoff.inference.loglikelihood import shared_prefix_length

    # token 3 is the first labelled one, so position 2 (which predicts it) must be fed
    assert shared_prefix_length([([1, 2, 9, 4, 5], [-100, -100, -100, 4, 5]), ([1, 2, 9, 7], [-100] * 4)]) == 2
    assert shared_prefix_length([([1, 2, 9, 4], [-100] * 4), ([1, 2, 9, 7], [-100] * 4)]) == 3
    assert shared_prefix_length([([1, 2], [-100, 2]), ([3, 2], [-100, 2])]) == 0
