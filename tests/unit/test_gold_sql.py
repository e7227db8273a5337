"""The gold SQL's log-likelihood: equal to the training loss on the same labels, batched or not."""

import pytest
import torch

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
