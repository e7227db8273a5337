"""Spider dev execution accuracy: one case per dev example (ids like concert_singer-0003).

Cases, predictions and the metric come from fixtures/spider.py; a failing case is a
wrong answer of the model, i.e. the measurement, not a crash.
"""
import pytest
from deepeval.test_case import LLMTestCase

from metrics import GoldQueryError

RAW_OUTPUT_CHARS = 2000


def test_execution_accuracy(spider_case, spider_predictions, spider_metric, record_property):
    example = spider_case.example
    output = spider_predictions[spider_case.case_id]
    record_property("suite", "spider")
    record_property("db_id", example.db_id)
    record_property("hardness", spider_case.hardness)
    record_property("question", example.question)
    record_property("gold", example.query)
    record_property("raw_output", output[:RAW_OUTPUT_CHARS])
    test_case = LLMTestCase(
        input=example.question,
        actual_output=output,
        expected_output=example.query,
        metadata={"db_path": str(spider_case.db_path)},
    )
    try:
        spider_metric.measure(test_case)
    except GoldQueryError as exc:
        record_property("failure", "dataset_error")
        pytest.skip(f"dataset error (gold query fails, not scored): {exc}")
    record_property("prediction", spider_metric.predicted_sql)
    record_property("passed", bool(spider_metric.is_successful()))
    record_property("reason", spider_metric.reason)
    record_property("failure", spider_metric.failure)
    record_property("vacuous", spider_metric.vacuous)
    record_property("set_match", spider_metric.set_match)
    assert spider_metric.is_successful(), spider_metric.reason
