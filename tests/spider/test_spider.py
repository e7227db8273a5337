"""Spider dev execution accuracy: one case per dev example (ids like concert_singer-0003).

Cases, the cached SQL and the verdict come from the Spider suite (tradeoff/suites/spider/suite.py),
which scores the answer with the ExecutionAccuracy metric (a deepeval BaseMetric) against the
real SQLite databases. A failing case is a wrong answer of the model, i.e. the measurement, not
a crash. The case passes on the official evaluator's verdict; the strict and set variants are
recorded beside it.
"""

SUITE = "spider"


def test_execution_accuracy(score):
    verdict = score()
    assert verdict.passed, verdict.reason
