"""The gold SQL's log-likelihood as a suite: a continuous learning signal that moves before
execution accuracy does.

Each scorable Spider dev case (the Spider suite's selection and prompt: same `--limit`,
`--spider-db`, `--hardness`, shots) is scored by the log-likelihood of its gold SQL written as
the assistant's answer, token for token as train.py labels it (tradeoff/training/data.py). The
number is the loss per token of the gold answer, with a bootstrap interval over cases; a fine-
tuned model that learned the task lowers it. A case fails only without a finite log-likelihood.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from metrics.hardness import LEVELS
from tradeoff.records import CaseRecord
from tradeoff.suites.api import Case, Getter, ModelAccess, OptionSpec, Record, Verdict, Work

if TYPE_CHECKING:
    from tradeoff.config.experiments import Registry
    from tradeoff.config.run_options import Options

SCORER_VERSION = 1  # bump when the scored text or the arithmetic changes


class GoldSQLSuite:
    name = "gold_sql"
    tests_dir = "tests/gold_sql"
    markers = ("gold_sql: the gold SQL's log-likelihood as the answer to a Spider dev question",)
    option_specs: Sequence[OptionSpec] = ()  # the Spider suite's selection options apply

    def read_options(self, get: Getter, registry: Registry) -> None:
        return None

    def check_data(self, options: Options) -> None:
        from tradeoff.suites.spider.suite import SUITE as SPIDER

        SPIDER.check_data(options)

    def selects_module(self, options: Options, path: Path) -> bool:
        return True

    def cases(self, options: Options, part: str | None) -> list[Case]:
        from tradeoff.suites.spider.suite import SUITE as SPIDER

        return [
            Case(c.case_id, c.payload, ("gold_sql", c.payload.hardness), c.skip_reason)
            for c in SPIDER.cases(options, None)
        ]

    def work(self, options: Options, cases: Sequence[Case], model_key: str, model: ModelAccess) -> Work:
        from tradeoff.inference.cache import prediction_key
        from tradeoff.inference.once_per_device import Job
        from tradeoff.suites.spider.prompts import chat_messages, choose_fewshot, render
        from tradeoff.suites.spider.suite import SUITE as SPIDER

        data = options.of("spider").data
        shots = SPIDER.shots(options)
        examples = choose_fewshot(data.train(), shots) if shots else []
        tokenizer = model.tokenizer()
        jobs = []
        for case in cases:
            example = case.payload.example
            messages = chat_messages(data, example.db_id, example.question, examples, answer=example.query)
            prompt = render(tokenizer, messages[:-1], add_generation_prompt=True)
            full = render(tokenizer, messages, add_generation_prompt=False)
            key = prediction_key(model_key, full, {"task": "gold_sql", "scorer": SCORER_VERSION, "prompt": prompt})
            jobs.append(Job(key, case.case_id, (prompt, full)))

        from tradeoff.inference.loglikelihood import score_labelled, scorer
        from tradeoff.training.data import encode

        def answers(loaded: Any, payloads: list[tuple[str, str]]) -> list[Any]:
            encoded = [encode(loaded.tokenizer, *pair) for pair in payloads]
            return score_labelled(loaded.model, [(e.input_ids, e.labels) for e in encoded], model.batch_size)

        compute = scorer(model, "scoring gold SQL", max(1, model.batch_size) * 4, answers)
        return Work(jobs, compute)

    def imported(self, options: Options, cases: Sequence[Case], source: Path) -> dict[str, dict[str, Any]] | None:
        return None  # a predictions file holds SQL, not this suite's scores

    def score(self, options: Options, case: Case, value: dict[str, Any], record: Record) -> Verdict:
        from tradeoff.suites.spider.prompts import normalize_sql

        example = case.payload.example
        answer = normalize_sql(example.query)
        ll, tokens = float(value["loglikelihood"]), int(value["tokens"])
        for name, prop in (
            ("suite", "gold_sql"),
            ("db_id", example.db_id),
            ("hardness", case.payload.hardness),
            ("category", case.payload.hardness),  # the summary's grouping
            ("gold", answer),
            ("loglikelihood", ll),
            ("tokens", tokens),
            ("bytes", len(answer.encode("utf-8"))),
            ("words", len(answer.split())),
            ("generated_by", value.get("generated_by")),
        ):
            record(name, prop)
        ok = tokens > 0 and math.isfinite(ll)
        reason = f"{-ll / tokens:.4f} nats/token over {tokens} answer tokens" if tokens else "no answer tokens"
        record("passed", ok)
        record("reason", reason)
        return Verdict(ok, reason if ok else f"no finite log-likelihood: {reason}")

    def marked_props(self, keywords: Any) -> dict[str, Any]:
        return {"hardness": next((h for h in LEVELS if h in keywords), "unknown")}

    def summarize(self, records: list[CaseRecord]) -> dict[str, Any]:
        from tradeoff.suites.perplexity.summary import summarize

        return summarize(records)  # the same token-weighted blocks, grouped by hardness

    def overalls(self, summary: dict[str, Any]) -> list[dict[str, Any]]:
        return [{"pass_rate": None, "errors": summary["errors"] + summary["overall"]["not_finite"]}]

    def run_settings(self, options: Options) -> dict[str, Any]:
        return {}  # the Spider suite's settings (shots, limit) are the ones that apply

    def data_record(self, options: Options, records: list[CaseRecord]) -> dict[str, Any]:
        return {}  # the Spider suite records the data checksums

    def summary_lines(self, model: str, summary: dict[str, Any], settings: dict[str, Any]) -> list[str]:
        o = summary["overall"]
        if not o["scored"]:
            return [f"Gold SQL log-likelihood — model {model}: no case scored"]
        lo, hi = o["nll_per_token_ci95"]
        lines = [
            f"Gold SQL log-likelihood — model {model}: {o['nll_per_token']:.4f} nats per answer token "
            f"(95% CI {lo:.4f}–{hi:.4f}) over {o['scored']} cases, {o['tokens']} tokens"
        ]
        for level, b in summary["by_category"].items():
            if b["scored"]:
                lines.append(f"  {level:<8} {b['nll_per_token']:.4f} nats/token  ({b['scored']} cases)")
        return lines


SUITE = GoldSQLSuite()
