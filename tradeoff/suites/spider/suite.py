"""Spider dev execution accuracy as a suite: one case per dev example (ids like concert_singer-0003),
SQL generated greedily once per model and cached, each case scored by the ExecutionAccuracy
metric (a deepeval BaseMetric; metrics/execution_accuracy.py) on the official evaluator's
verdict, with the strict and set variants recorded beside it."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from metrics.hardness import LEVELS
from tradeoff.config import settings
from tradeoff.errors import UserError
from tradeoff.records import CaseRecord
from tradeoff.suites.api import Case, Getter, ModelAccess, OptionSpec, Record, Verdict, Work

if TYPE_CHECKING:
    from tradeoff.config.experiments import Registry
    from tradeoff.config.run_options import Options
    from tradeoff.models.predictions import Imported
    from tradeoff.suites.spider.data import SpiderData

RAW_OUTPUT_CHARS = 2000  # of the model's raw answer kept per case in the results


@dataclass
class SpiderOptions:
    spider_dir: Path
    limit: int | None
    dbs: list[str]
    hardness: list[str]
    shots_given: int | None
    max_new_tokens: int
    batch_size: int
    query_timeout: float
    max_rows: int

    @cached_property
    def data(self) -> SpiderData:
        """The Spider directory, parsed once for the option checks, collection and results."""
        from tradeoff.suites.spider.data import SpiderData

        return SpiderData(self.spider_dir)


class SpiderSuite:
    name = "spider"
    tests_dir = "tests/spider"
    markers = (
        "spider: a Spider dev execution-accuracy case",
        *(f"{level}: Spider hardness {level} (official rules)" for level in LEVELS),
    )
    option_specs: Sequence[OptionSpec] = (
        (
            "--spider-dir",
            dict(default=None, help="Spider directory, official layout (default $SPIDER_DIR or ../shared/data/spider)"),
        ),
        ("--limit", dict(type=int, default=None, help="at most N Spider cases, spread evenly over the dev set")),
        ("--spider-db", dict(action="append", default=[], help="only these databases (repeat or comma-separate)")),
        (
            "--hardness",
            dict(action="append", default=[], help="only these hardness levels: easy, medium, hard, extra"),
        ),
        (
            "--spider-shots",
            dict(type=int, default=None, help="few-shot examples in the Spider prompt (default per experiment)"),
        ),
        ("--max-new-tokens", dict(type=int, default=None, help="generation length limit for SQL")),
        ("--spider-batch-size", dict(type=int, default=None, help="rows decoded together when generating SQL")),
        ("--query-timeout", dict(type=float, default=None, help="seconds per SQL query before it is stopped")),
        ("--max-rows", dict(type=int, default=None, help="rows fetched per query before it counts as too many")),
    )

    def read_options(self, get: Getter, registry: Registry) -> SpiderOptions:
        from tradeoff.config.run_options import at_least, given, split_values

        ev = registry.evaluation
        opts = SpiderOptions(
            spider_dir=Path(get("spider_dir")).expanduser() if get("spider_dir") else settings.default_spider_dir(),
            limit=get("limit"),
            dbs=split_values(get("spider_db")),
            hardness=split_values(get("hardness")),
            shots_given=get("spider_shots"),
            max_new_tokens=given(get("max_new_tokens"), ev.spider_max_new_tokens),
            batch_size=given(get("spider_batch_size"), ev.spider_batch_size),
            query_timeout=given(get("query_timeout"), ev.query_timeout_s),
            max_rows=given(get("max_rows"), ev.max_rows),
        )
        at_least("--limit", opts.limit, 1)
        bad = [h for h in opts.hardness if h not in LEVELS]
        if bad:
            raise UserError(f"--hardness: unknown level(s) {bad}; choose from {list(LEVELS)}")
        at_least("--max-new-tokens", opts.max_new_tokens, 1)
        at_least("--spider-batch-size", opts.batch_size, 1)
        at_least("--max-rows", opts.max_rows, 1)
        if not opts.query_timeout > 0:
            raise UserError(f"--query-timeout must be > 0, got {opts.query_timeout}")
        at_least("--spider-shots", opts.shots_given, 0)
        return opts

    @staticmethod
    def shots(options: Options) -> int:
        """Few-shot examples in the prompt: --spider-shots, else the experiment's own setting."""
        own: SpiderOptions = options.of("spider")
        return own.shots_given if own.shots_given is not None else options.model.spider_shots

    def check_data(self, options: Options) -> None:
        """dev.json and tables.json parsed now, and the few-shot examples' schemas present. A problem
        of one database (file missing, not SQLite, no schema) only makes its cases unscorable:
        they are skipped with the reason."""
        from tradeoff.suites.spider.prompts import choose_fewshot

        data = options.of("spider").data
        data.dev, data.schemas  # noqa: B018 - parse both files now
        if options.model.predictions is not None:  # read now: a malformed file is one line, before collection
            unmatched = _imported(options.of("spider"), options.model.predictions).unmatched
            if unmatched and not os.environ.get("PYTEST_XDIST_WORKER"):
                print(
                    f"warning: {options.model.predictions}: {len(unmatched)} row(s) match no dev case and are not "
                    f"scored: {'; '.join(unmatched[:5])}{' ...' if len(unmatched) > 5 else ''}",
                    file=sys.stderr,
                )
        shots = self.shots(options)
        if shots:
            train = data.train()
            if shots > len(train):
                raise UserError(
                    f"--spider-shots {shots}: the train split of {data.root} has only {len(train)} examples"
                )
            for shot in choose_fewshot(train, shots):
                if shot.db_id not in data.schemas:
                    raise UserError(
                        f"Spider data: few-shot example from the train split uses database {shot.db_id!r}, "
                        f"which has no schema in {data.root / 'tables.json'} (or use --spider-shots 0)"
                    )

    def selects_module(self, options: Options, path: Path) -> bool:
        return True

    def cases(self, options: Options, part: str | None) -> list[Case]:
        from tradeoff.suites.spider.jobs import select_cases

        own: SpiderOptions = options.of("spider")
        chosen = select_cases(own.data, own.dbs, own.hardness, own.limit)
        return [Case(c.case_id, c, ("spider", c.hardness), skip) for c, skip in chosen]

    def work(self, options: Options, cases: Sequence[Case], model_key: str, model: ModelAccess) -> Work:
        from tradeoff.suites.spider.jobs import spider_generator, spider_jobs

        own: SpiderOptions = options.of("spider")
        payloads = [c.payload for c in cases]
        jobs = spider_jobs(
            own.data, payloads, model.tokenizer(), model_key, self.shots(options), own.max_new_tokens, own.batch_size
        )
        return Work(jobs, spider_generator(model.load, own.max_new_tokens, own.batch_size, model.label))

    def imported(self, options: Options, cases: Sequence[Case], source: Path) -> dict[str, dict[str, Any]] | None:
        from tradeoff.models.predictions import require

        wanted = [c.case_id for c in cases]
        hint = "select fewer (--limit, --spider-db) or complete the file"
        sql = require(_imported(options.of("spider"), source).sql, wanted, f"predictions file {source}", hint)
        return {case_id: {"text": text, "stopped": True} for case_id, text in sql.items()}

    def score(self, options: Options, case: Case, value: dict[str, Any], record: Record) -> Verdict:
        """The ExecutionAccuracy metric on the cached answer; a fresh instance per case, so one
        that once failed cannot colour the next."""
        from deepeval.test_case import LLMTestCase

        from metrics import ExecutionAccuracy, GoldQueryError, QueryLimits

        own: SpiderOptions = options.of("spider")
        example = case.payload.example
        output = value["text"]
        record("suite", "spider")
        record("db_id", example.db_id)
        record("hardness", case.payload.hardness)
        record("question", example.question)
        record("gold", example.query)
        record("raw_output", output[:RAW_OUTPUT_CHARS])
        record("truncated", not value["stopped"])
        record("generated_by", value.get("generated_by"))
        metric = ExecutionAccuracy(limits=QueryLimits(timeout_s=own.query_timeout, max_rows=own.max_rows))
        test_case = LLMTestCase(
            name=case.case_id,
            input=example.question,
            actual_output=output,
            expected_output=example.query,
            metadata={"db_path": str(case.payload.db_path)},
        )
        try:
            metric.measure(test_case)
            if settings.deepeval_native():  # `deepeval test run`: the case also goes through deepeval's test API
                _through_deepeval(test_case, ExecutionAccuracy(limits=metric.limits))
        except GoldQueryError as exc:
            # A data fault, not a measurement: it would make this model's scored set differ from
            # another's, so the run stops (fixtures/plugin.py) instead of skipping the case.
            raise UserError(f"Spider data fault in {case.case_id}: {exc}") from None
        for name, prop in (
            ("prediction", metric.predicted_sql),
            ("passed", bool(metric.is_successful())),
            ("reason", metric.reason),
            ("failure", metric.failure),
            ("vacuous", metric.vacuous),
            ("strict_match", metric.strict_match),
            ("strict_failure", metric.strict_failure),
            ("set_match", metric.set_match),
            ("more_statements", metric.more_statements),
            ("databases", metric.databases),
            ("gold_rows_head", metric.gold_head),
            ("predicted_rows_head", metric.predicted_head),
        ):
            record(name, prop)
        return Verdict(bool(metric.is_successful()), str(metric.reason))

    def marked_props(self, keywords: Any) -> dict[str, Any]:
        return {"hardness": next((h for h in LEVELS if h in keywords), "unknown")}

    def summarize(self, records: list[CaseRecord]) -> dict[str, Any]:
        from tradeoff.suites.spider.summary import summarize_spider

        return summarize_spider(records)

    def overalls(self, summary: dict[str, Any]) -> list[dict[str, Any]]:
        return [{**summary["overall"], "errors": summary["errors"]}]

    def run_settings(self, options: Options) -> dict[str, Any]:
        own: SpiderOptions = options.of("spider")
        return {
            "spider_shots": self.shots(options),
            "max_new_tokens": own.max_new_tokens,
            "spider_batch_size": own.batch_size,
            "query_timeout_s": own.query_timeout,
            "max_rows": own.max_rows,
            "limit": own.limit,
        }

    def data_record(self, options: Options, records: list[CaseRecord]) -> dict[str, Any]:
        from tradeoff.suites.spider.data import database_set_fingerprint

        own: SpiderOptions = options.of("spider")
        sums = own.data.checksums(sorted({r.props.get("db_id", r.case_id.rsplit("-", 1)[0]) for r in records}))
        out: dict[str, Any] = {
            "spider_dir": str(own.spider_dir),
            "spider_sha256": sums,
            "spider_database_set": database_set_fingerprint(sums),
        }
        if options.model.predictions is not None:
            out["predictions_unmatched_rows"] = _imported(own, options.model.predictions).unmatched
        return out

    def summary_lines(self, model: str, summary: dict[str, Any], settings: dict[str, Any]) -> list[str]:
        from tradeoff.suites.spider.summary import format_spider_summary

        return format_spider_summary(model, summary)


def _through_deepeval(test_case: Any, metric: Any) -> None:
    """Hand the case to deepeval's `assert_test`, so deepeval's results table, its results folder
    and its cache hold it. The verdict is the benchmark's own (measured above with the same metric
    class); deepeval's failed assertion is not re-raised here, the test's assert reports it."""
    from deepeval import assert_test  # type: ignore[attr-defined]

    try:
        assert_test(test_case, [metric], run_async=False)
    except AssertionError:
        pass


def _imported(own: SpiderOptions, source: Path) -> Imported:
    """The predictions file read against this run's dev set, once per process."""
    from tradeoff.models.predictions import DevCase, read_spider

    key = (str(source), str(own.spider_dir))
    if key not in _IMPORTED:
        dev = [DevCase(e.case_id, e.db_id, e.question, e.query) for e in own.data.dev]
        _IMPORTED[key] = read_spider(source, dev)
    return _IMPORTED[key]


_IMPORTED: dict[tuple[str, str], Imported] = {}

SUITE = SpiderSuite()
