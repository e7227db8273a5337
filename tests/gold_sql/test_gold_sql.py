"""The gold SQL's log-likelihood per Spider dev case (tradeoff/suites/gold_sql/suite.py): a case
fails only when the model gives the gold answer no finite log-likelihood; the measurement is the
loss per answer token, the learning signal that moves before execution accuracy."""

SUITE = "gold_sql"


def test_gold_sql_loglikelihood(score):
    verdict = score()
    assert verdict.passed, verdict.reason
