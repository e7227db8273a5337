"""Spider dev execution accuracy: one case per dev example (ids like concert_singer-0003).

Cases, predictions and the metric come from fixtures/spider.py; a failing case is a
wrong answer of the model, i.e. the measurement, not a crash. The case passes on the
official evaluator's verdict; the strict and set variants are recorded beside it.
"""

from deepeval.test_case import LLMTestCase

from metrics import GoldQueryError
from tradeoff.errors import UserError

RAW_OUTPUT_CHARS = 2000


def test_execution_accuracy(spider_case, spider_predictions, spider_metric, record_property):
    example = spider_case.example
    generated = spider_predictions[spider_case.case_id]
    output = generated["text"]
    record_property("suite", "spider")
    record_property("db_id", example.db_id)
    record_property("hardness", spider_case.hardness)
    record_property("question", example.question)
    record_property("gold", example.query)
    record_property("raw_output", output[:RAW_OUTPUT_CHARS])
    record_property("truncated", not generated["stopped"])
    record_property("generated_by", generated.get("generated_by"))
    test_case = LLMTestCase(
        input=example.question,
        actual_output=output,
        expected_output=example.query,
        metadata={"db_path": str(spider_case.db_path)},
    )
    try:
        spider_metric.measure(test_case)
    except GoldQueryError as exc:
        # A data fault, not a measurement: it would make this model's scored set differ from
        # another's, so the run stops (fixtures/plugin.py) instead of skipping the case.
        raise UserError(f"Spider data fault in {spider_case.case_id}: {exc}") from None
    record_property("prediction", spider_metric.predicted_sql)
    record_property("passed", bool(spider_metric.is_successful()))
    record_property("reason", spider_metric.reason)
    record_property("failure", spider_metric.failure)
    record_property("vacuous", spider_metric.vacuous)
    record_property("strict_match", spider_metric.strict_match)
    record_property("strict_failure", spider_metric.strict_failure)
    record_property("set_match", spider_metric.set_match)
    record_property("more_statements", spider_metric.more_statements)
    record_property("databases", spider_metric.databases)
    assert spider_metric.is_successful(), spider_metric.reason
