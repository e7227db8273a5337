"""MMLU as a suite: one pytest module per subject (tests/mmlu/test_<subject>.py), each question a
case in the letter and/or cloze formulation, scored by log-likelihood exactly as lm-eval does
(prefix KV cache per subject, tradeoff/suites/mmlu/scoring.py) and cached like Spider's answers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tradeoff.config import settings
from tradeoff.errors import UserError
from tradeoff.records import CaseRecord
from tradeoff.suites.api import Case, Getter, ModelAccess, OptionSpec, Record, Verdict, Work
from tradeoff.suites.mmlu.categories import CATEGORIES, SUBJECTS, category_of

if TYPE_CHECKING:
    from tradeoff.config.experiments import Registry
    from tradeoff.config.run_options import Options
    from tradeoff.suites.mmlu.data import MMLUQuestion

FORMULATIONS = ("letter", "cloze")


@dataclass
class MMLUOptions:
    mmlu_dir: Path
    subjects: list[str]
    categories: list[str]
    split: str
    limit: int | None
    shots: int
    formulations: list[str]
    log_samples: Path | None = None
    _questions: dict[str, list[MMLUQuestion]] = field(default_factory=dict)

    def subject_selected(self, subject: str) -> bool:
        if self.subjects and subject not in self.subjects:
            return False
        return not self.categories or category_of(subject) in self.categories

    def questions(self, subject: str) -> list[MMLUQuestion]:
        """The subject's questions this run scores (file order, at most --mmlu-limit); read
        once, by the option checks, and reused by collection."""
        from tradeoff.suites.mmlu.data import MMLUDataError, load_split

        if subject not in self._questions:
            try:
                questions = load_split(self.mmlu_dir, subject, self.split)
            except MMLUDataError as exc:
                raise UserError(f"MMLU data: {exc}") from None
            self._questions[subject] = questions[: self.limit] if self.limit is not None else questions
        return self._questions[subject]


def category_marker(subject: str) -> str:
    return f"mmlu_{category_of(subject)}"


class MMLUSuite:
    name = "mmlu"
    tests_dir = "tests/mmlu"
    markers = (
        "mmlu: an MMLU question",
        *(f"mmlu_{c}: MMLU subject in lm-eval's {c.replace('_', ' ')} category" for c in CATEGORIES),
    )
    option_specs: Sequence[OptionSpec] = (
        ("--mmlu-dir", dict(default=None, help="MMLU CSV directory (default $MMLU_DIR or ../shared/data/mmlu)")),
        (
            "--mmlu-subjects",
            dict(action="append", default=[], help="only these MMLU subjects (repeat or comma-separate)"),
        ),
        (
            "--mmlu-categories",
            dict(action="append", default=[], help="only these categories: " + ", ".join(CATEGORIES)),
        ),
        (
            "--mmlu-split",
            dict(default="test", choices=("test", "val"), help="MMLU split to score (val for quick runs)"),
        ),
        (
            "--mmlu-limit",
            dict(type=int, default=None, help="at most N questions per subject (file order, as lm-eval --limit)"),
        ),
        (
            "--mmlu-shots",
            dict(
                type=int, default=5, help="few-shot examples from the dev split (lm-eval default 5; reference study 4)"
            ),
        ),
        (
            "--mmlu-formulation",
            dict(
                default="letter",
                choices=(*FORMULATIONS, "both"),
                help="letter: log-likelihood of ' A'..' D' (lm-eval mmlu); cloze: option texts, acc_norm",
            ),
        ),
        (
            "--mmlu-log-samples",
            dict(
                default=None,
                help="with --model predictions:FILE: lm-eval --log_samples output (a samples_mmlu_*.jsonl file or "
                "folder) read as that model's MMLU scores",
            ),
        ),
    )

    def read_options(self, get: Getter, registry: Registry) -> MMLUOptions:
        from tradeoff.config.run_options import at_least, split_values

        formulation = get("mmlu_formulation")
        opts = MMLUOptions(
            mmlu_dir=Path(get("mmlu_dir")).expanduser() if get("mmlu_dir") else settings.default_mmlu_dir(),
            subjects=split_values(get("mmlu_subjects")),
            categories=split_values(get("mmlu_categories")),
            split=get("mmlu_split"),
            limit=get("mmlu_limit"),
            shots=get("mmlu_shots"),
            formulations=list(FORMULATIONS) if formulation == "both" else [formulation],
            log_samples=Path(get("mmlu_log_samples")).expanduser() if get("mmlu_log_samples") else None,
        )
        at_least("--mmlu-limit", opts.limit, 1)
        if not 0 <= opts.shots <= 5:
            raise UserError(f"--mmlu-shots must be between 0 and 5 (the dev split has 5 per subject), got {opts.shots}")
        bad = [c for c in opts.categories if c not in CATEGORIES]
        if bad:
            raise UserError(f"--mmlu-categories: unknown {bad}; choose from {list(CATEGORIES)}")
        bad = [s for s in opts.subjects if s not in SUBJECTS]
        if bad:
            raise UserError(
                f"--mmlu-subjects: unknown {bad}; see tradeoff/suites/mmlu/categories.py for the 57 subjects"
            )
        return opts

    def check_data(self, options: Options) -> None:
        from tradeoff.suites.mmlu.data import MMLUDataError, list_subjects, load_split

        own: MMLUOptions = options.of("mmlu")
        try:
            found = list_subjects(own.mmlu_dir, own.split)
        except (MMLUDataError, OSError) as exc:
            raise UserError(f"MMLU data: {exc}") from None
        if not found:
            raise UserError(f"MMLU data directory {own.mmlu_dir} has no {own.split}/<subject>_{own.split}.csv files")
        for subject in found:
            if own.subject_selected(subject):
                own.questions(subject)
                if own.shots:
                    try:
                        load_split(own.mmlu_dir, subject, "dev")
                    except (MMLUDataError, OSError) as exc:
                        raise UserError(f"MMLU data (few-shot examples): {exc}") from None
        if own.log_samples is not None:
            if options.model.predictions is None:
                raise UserError(
                    "--mmlu-log-samples gives a predictions file's MMLU scores: use it with --model predictions:FILE"
                )

    def selects_module(self, options: Options, path: Path) -> bool:
        subject = path.stem.removeprefix("test_")
        return subject not in SUBJECTS or options.of("mmlu").subject_selected(subject)

    def cases(self, options: Options, part: str | None) -> list[Case]:
        from tradeoff.suites.mmlu.jobs import case_key

        own: MMLUOptions = options.of("mmlu")
        subjects = [part] if part is not None else [s for s in SUBJECTS if own.subject_selected(s)]
        return [
            Case(case_key(q, f), (q, f), ("mmlu", category_marker(q.subject)))
            for subject in subjects
            for f in own.formulations
            for q in own.questions(subject)
        ]

    def work(self, options: Options, cases: Sequence[Case], model_key: str, model: ModelAccess) -> Work:
        from tradeoff.suites.mmlu.jobs import mmlu_jobs, mmlu_scorer

        own: MMLUOptions = options.of("mmlu")
        jobs, prefixes = mmlu_jobs(own.mmlu_dir, [c.payload for c in cases], model_key, own.shots)
        return Work(jobs, mmlu_scorer(model.load, prefixes, model.batch_size, model.label))

    def imported(self, options: Options, cases: Sequence[Case], source: Path) -> dict[str, dict[str, Any]] | None:
        own: MMLUOptions = options.of("mmlu")
        if own.log_samples is None:
            return None  # a predictions file holds SQL, not MMLU scores
        from tradeoff.models.predictions import require

        hint = "select the subjects, split and formulation it covers"
        return require(_log_samples(own), [c.case_id for c in cases], f"--mmlu-log-samples {own.log_samples}", hint)

    def score(self, options: Options, case: Case, value: dict[str, Any], record: Record) -> Verdict:
        """lm-eval's verdicts: letter `acc` (argmax over ' A'..' D'), cloze `acc_norm` (argmax of
        the byte-length-normalised log-likelihoods of the option texts)."""
        from tradeoff.suites.mmlu.data import LETTERS
        from tradeoff.suites.mmlu.prompts import choice_texts
        from tradeoff.suites.mmlu.signals import gold_logprob

        question, formulation = case.payload
        predicted = value["norm_predicted"] if formulation == "cloze" else value["predicted"]
        reason = f"predicted {LETTERS[predicted]}, answer {LETTERS[question.answer]}"
        for name, prop in (
            ("suite", "mmlu"),
            ("subject", question.subject),
            ("category", category_of(question.subject)),
            ("formulation", formulation),
            ("answer", LETTERS[question.answer]),
            ("prediction", LETTERS[predicted]),
            ("loglikelihoods", [round(v, 4) for v in value["loglikelihoods"]]),
            (
                "gold_logprob",
                gold_logprob(
                    value["loglikelihoods"], question.answer, formulation, choice_texts(question, formulation)
                ),
            ),
            ("passed", predicted == question.answer),
            ("generated_by", value.get("generated_by")),
            ("reason", reason),
        ):
            record(name, prop)
        return Verdict(predicted == question.answer, reason)

    def marked_props(self, keywords: Any) -> dict[str, Any]:
        return {}

    def summarize(self, records: list[CaseRecord]) -> dict[str, Any]:
        from tradeoff.suites.mmlu.summary import summarize_mmlu

        return summarize_mmlu(records)

    def overalls(self, summary: dict[str, Any]) -> list[dict[str, Any]]:
        return [{**block["overall"], "errors": block["errors"]} for block in summary.values()]

    def run_settings(self, options: Options) -> dict[str, Any]:
        own: MMLUOptions = options.of("mmlu")
        return {
            "mmlu_split": own.split,
            "mmlu_shots": own.shots,
            "mmlu_limit": own.limit,
            "mmlu_formulations": own.formulations,
        }

    def data_record(self, options: Options, records: list[CaseRecord]) -> dict[str, Any]:
        from tradeoff.suites.mmlu.data import data_checksum

        own: MMLUOptions = options.of("mmlu")
        subjects = sorted({r.props.get("subject", r.case_id.split("-")[0]) for r in records})
        return {"mmlu_dir": str(own.mmlu_dir), "mmlu_sha256": data_checksum(own.mmlu_dir, subjects, own.split)}

    def summary_lines(self, model: str, summary: dict[str, Any], settings: dict[str, Any]) -> list[str]:
        from tradeoff.suites.mmlu.summary import format_mmlu_summary

        return format_mmlu_summary(model, summary, settings["mmlu_split"], settings["mmlu_shots"])


def _log_samples(own: MMLUOptions) -> dict[str, dict[str, Any]]:
    """The lm-eval samples read against this run's selected questions, once per process."""
    from tradeoff.suites.mmlu.log_samples import read_log_samples

    assert own.log_samples is not None
    key = str(own.log_samples)
    if key not in _READ:
        from tradeoff.suites.mmlu.categories import SUBJECTS

        questions = {(q.subject, q.index): q for s in SUBJECTS if own.subject_selected(s) for q in own.questions(s)}
        _READ[key] = read_log_samples(own.log_samples, questions)
    return _READ[key]


_READ: dict[str, dict[str, dict[str, Any]]] = {}

SUITE = MMLUSuite()
