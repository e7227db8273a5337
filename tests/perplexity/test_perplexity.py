"""General-text perplexity: one case per text (an MMLU val question with its correct answer as
running text), scored by the Perplexity suite (tradeoff/suites/perplexity/suite.py). A case fails
only when the model gives its text no finite log-likelihood; the measurement is the perplexity."""

SUITE = "perplexity"


def test_text_loglikelihood(score):
    verdict = score()
    assert verdict.passed, verdict.reason
