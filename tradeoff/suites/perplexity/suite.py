"""General-text perplexity as a suite: the forgetting signal that moves before accuracy does
(Kalajdzievski 2024 measures forgetting as the rise in loss on general text).

No general-text corpus ships offline here with a clear licence, so the texts are MMLU questions
with their correct answers written as running text ("question" newline "answer"), from a split
no prompt uses (val by default: the few-shot examples come from dev, the MMLU suite scores test).
Each text is one case, scored by its rolling log-likelihood (tradeoff/inference/loglikelihood.py);
a case fails only when the model gives it no finite log-likelihood. The numbers are the
perplexity per token and per word and bits per byte, each with a bootstrap interval over texts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tradeoff.config import settings
from tradeoff.errors import UserError
from tradeoff.records import CaseRecord
from tradeoff.suites.api import Case, Getter, ModelAccess, OptionSpec, Record, Verdict, Work
from tradeoff.suites.mmlu.categories import SUBJECTS, category_of

if TYPE_CHECKING:
    from tradeoff.config.experiments import Registry
    from tradeoff.config.run_options import Options
    from tradeoff.suites.mmlu.data import MMLUQuestion

SCORER_VERSION = 1  # bump when the text or the scoring arithmetic changes


def running_text(question: MMLUQuestion) -> str:
    """The question followed by its correct answer, as plain text (no letters, no options)."""
    return f"{question.question.strip()}\n{question.choices[question.answer].strip()}"


@dataclass
class PerplexityOptions:
    mmlu_dir: Path
    split: str
    limit: int | None


class PerplexitySuite:
    name = "perplexity"
    tests_dir = "tests/perplexity"
    markers = ("perplexity: a general-text perplexity case (an MMLU question with its answer as running text)",)
    option_specs: Sequence[OptionSpec] = (
        (
            "--perplexity-split",
            dict(
                default="val",
                choices=("val", "test"),
                help="MMLU split whose questions and answers are the texts (default val: no prompt uses it)",
            ),
        ),
        (
            "--perplexity-limit",
            dict(type=int, default=None, help="at most N texts per subject (file order)"),
        ),
    )

    def read_options(self, get: Getter, registry: Registry) -> PerplexityOptions:
        from tradeoff.config.run_options import at_least

        mmlu_dir = get("mmlu_dir")  # the texts live with MMLU's data: one option, one home
        opts = PerplexityOptions(
            mmlu_dir=Path(mmlu_dir).expanduser() if mmlu_dir else settings.default_mmlu_dir(),
            split=get("perplexity_split"),
            limit=get("perplexity_limit"),
        )
        at_least("--perplexity-limit", opts.limit, 1)
        return opts

    def _questions(self, options: Options) -> list[MMLUQuestion]:
        from tradeoff.suites.mmlu.data import MMLUDataError, load_split

        own: PerplexityOptions = options.of("perplexity")
        out = []
        for subject in SUBJECTS:
            try:
                questions = load_split(own.mmlu_dir, subject, own.split)
            except (MMLUDataError, OSError) as exc:
                raise UserError(f"perplexity texts (MMLU {own.split} split): {exc}") from None
            out += questions[: own.limit] if own.limit is not None else questions
        return out

    def check_data(self, options: Options) -> None:
        self._questions(options)

    def selects_module(self, options: Options, path: Path) -> bool:
        return True

    def cases(self, options: Options, part: str | None) -> list[Case]:
        return [
            Case(f"{q.case_id}-text", q, ("perplexity", f"mmlu_{category_of(q.subject)}"))
            for q in self._questions(options)
        ]

    def work(self, options: Options, cases: Sequence[Case], model_key: str, model: ModelAccess) -> Work:
        from tradeoff.inference.cache import prediction_key
        from tradeoff.inference.once_per_device import Job

        key_settings = {"task": "perplexity", "scorer": SCORER_VERSION}
        jobs = [
            Job(prediction_key(model_key, running_text(c.payload), key_settings), c.case_id, running_text(c.payload))
            for c in cases
        ]

        from tradeoff.inference.loglikelihood import score_texts, scorer

        def texts(loaded: Any, payloads: list[str]) -> list[Any]:
            return score_texts(loaded.model, loaded.tokenizer, payloads, model.batch_size)

        compute = scorer(model, "scoring texts", max(1, model.batch_size) * 8, texts)
        return Work(jobs, compute)

    def imported(self, options: Options, cases: Sequence[Case], source: Path) -> dict[str, dict[str, Any]] | None:
        return None  # a predictions file holds SQL, not this suite's scores

    def score(self, options: Options, case: Case, value: dict[str, Any], record: Record) -> Verdict:
        text = running_text(case.payload)
        ll, tokens = float(value["loglikelihood"]), int(value["tokens"])
        for name, prop in (
            ("suite", "perplexity"),
            ("subject", case.payload.subject),
            ("category", category_of(case.payload.subject)),
            ("loglikelihood", ll),
            ("tokens", tokens),
            ("bytes", len(text.encode("utf-8"))),
            ("words", len(text.split())),
            ("generated_by", value.get("generated_by")),
        ):
            record(name, prop)
        ok = tokens > 0 and math.isfinite(ll)
        reason = f"{-ll / tokens:.4f} nats/token over {tokens} tokens" if tokens else "no tokens"
        record("passed", ok)
        record("reason", reason)
        return Verdict(ok, reason if ok else f"no finite log-likelihood: {reason}")

    def marked_props(self, keywords: Any) -> dict[str, Any]:
        return {}

    def summarize(self, records: list[CaseRecord]) -> dict[str, Any]:
        from tradeoff.suites.perplexity.summary import summarize

        return summarize(records)

    def overalls(self, summary: dict[str, Any]) -> list[dict[str, Any]]:
        return [{"pass_rate": None, "errors": summary["errors"] + summary["overall"]["not_finite"]}]

    def run_settings(self, options: Options) -> dict[str, Any]:
        own: PerplexityOptions = options.of("perplexity")
        return {"perplexity_split": own.split, "perplexity_limit": own.limit}

    def data_record(self, options: Options, records: list[CaseRecord]) -> dict[str, Any]:
        from tradeoff.suites.mmlu.data import data_checksum

        own: PerplexityOptions = options.of("perplexity")
        subjects = sorted({r.props.get("subject", r.case_id.split("-")[0]) for r in records})
        return {"perplexity_texts_sha256": data_checksum(own.mmlu_dir, subjects, own.split)}

    def summary_lines(self, model: str, summary: dict[str, Any], settings: dict[str, Any]) -> list[str]:
        from tradeoff.suites.perplexity.summary import format_summary

        return format_summary(model, summary, settings.get("perplexity_split", "val"))


SUITE = PerplexitySuite()
