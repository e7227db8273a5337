"""The benchmark's run options, declared once for pytest (fixtures/options.py) and for the
`tradeoff.precompute` command, and validated once so bad input is one clear line."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tradeoff.config import settings
from tradeoff.config.experiments import ModelChoice, Registry, load_registry, resolve_model
from tradeoff.errors import UserError

if TYPE_CHECKING:
    from tradeoff.suites.spider.data import SpiderData

from metrics.hardness import LEVELS as HARDNESS

OPTION_SPECS: list[tuple[str, dict[str, Any]]] = [
    ("--model", dict(default="base", help="experiment name (base, v1, v2), model/adapter path or hub id")),
    (
        "--base-model",
        dict(default=None, help="base model key from experiments.toml (default: its defaults.base_model)"),
    ),
    ("--experiments", dict(default=None, help="experiments file (default experiments.toml or $TRADEOFF_EXPERIMENTS)")),
    ("--suite", dict(default="all", choices=("all", "spider", "mmlu"), help="which benchmark suite(s) to run")),
    (
        "--spider-dir",
        dict(default=None, help="Spider directory, official layout (default $SPIDER_DIR or ../shared/data/spider)"),
    ),
    ("--limit", dict(type=int, default=None, help="at most N Spider cases, spread evenly over the dev set")),
    ("--spider-db", dict(action="append", default=[], help="only these databases (repeat or comma-separate)")),
    ("--hardness", dict(action="append", default=[], help="only these hardness levels: easy, medium, hard, extra")),
    (
        "--spider-shots",
        dict(type=int, default=None, help="few-shot examples in the Spider prompt (default per experiment)"),
    ),
    ("--batch-size", dict(type=int, default=None, help="generation batch size")),
    ("--max-new-tokens", dict(type=int, default=None, help="generation length limit for SQL")),
    ("--query-timeout", dict(type=float, default=None, help="seconds per SQL query before it is stopped")),
    ("--max-rows", dict(type=int, default=None, help="rows fetched per query before it counts as too many")),
    ("--mmlu-dir", dict(default=None, help="MMLU CSV directory (default $MMLU_DIR or ../shared/data/mmlu)")),
    ("--mmlu-subjects", dict(action="append", default=[], help="only these MMLU subjects (repeat or comma-separate)")),
    (
        "--mmlu-categories",
        dict(action="append", default=[], help="only these categories: stem, humanities, social_sciences, other"),
    ),
    ("--mmlu-split", dict(default="test", choices=("test", "val"), help="MMLU split to score (val for quick runs)")),
    (
        "--mmlu-limit",
        dict(type=int, default=None, help="at most N questions per subject (file order, as lm-eval --limit)"),
    ),
    (
        "--mmlu-shots",
        dict(type=int, default=5, help="few-shot examples from the dev split (lm-eval default 5; reference study 4)"),
    ),
    (
        "--mmlu-formulation",
        dict(
            default="letter",
            choices=("letter", "cloze", "both"),
            help="letter: log-likelihood of ' A'..' D' (lm-eval mmlu); cloze: option texts, acc_norm",
        ),
    ),
    (
        "--min-pass-rate",
        dict(type=float, default=0.0, help="exit non-zero when a suite's pass rate is below this (0..1)"),
    ),
    ("--results-dir", dict(default=None, help="where results JSON and reports go (default out/)")),
    (
        "--computed-on",
        dict(
            default=None,
            help="score a prediction cache computed in another environment (the environment.json that "
            "`tradeoff precompute` wrote beside it); nothing is generated here",
        ),
    ),
]


def _computed_on(path: str | None) -> dict[str, Any] | None:
    """The computing environment a cache was filled in, declared by the file precompute wrote."""
    if not path:
        return None
    from tradeoff.inference.provenance import read_environment

    return read_environment(Path(path).expanduser())


def _given(value: Any, default: Any) -> Any:
    return default if value is None else value


def _split(values: list[str]) -> list[str]:
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


class Options:
    """The validated options; `get(dest)` reads one (pytest's getoption or getattr on argparse's namespace)."""

    device: str = "cpu"  # the torch device of a pytest-free command (precompute); workers choose their own

    def __init__(self, get: Callable[[str], Any]) -> None:
        self.registry: Registry = load_registry(Path(get("experiments")) if get("experiments") else None)
        self.base_model: str | None = get("base_model") or os.environ.get(settings.ENV_BASE_MODEL)
        self.model_name: str = get("model")
        self.computed_on: dict[str, Any] | None = _computed_on(get("computed_on"))
        self.suite: str = get("suite")
        self.spider_dir = Path(get("spider_dir")).expanduser() if get("spider_dir") else settings.default_spider_dir()
        self.limit: int | None = get("limit")
        self.spider_dbs: list[str] = _split(get("spider_db"))
        self.hardness: list[str] = _split(get("hardness"))
        ev = self.registry.evaluation
        # `is None`, not `or`: an explicit 0 is a value to reject, not a request for the default
        self.batch_size: int = _given(get("batch_size"), ev.batch_size)
        self.max_new_tokens: int = _given(get("max_new_tokens"), ev.spider_max_new_tokens)
        self.query_timeout: float = _given(get("query_timeout"), ev.query_timeout_s)
        self.max_rows: int = _given(get("max_rows"), ev.max_rows)
        self.min_pass_rate: float = get("min_pass_rate")
        self.results_dir = Path(get("results_dir")).expanduser() if get("results_dir") else settings.output_dir()
        self._spider_shots: int | None = get("spider_shots")
        self.mmlu_dir = Path(get("mmlu_dir")).expanduser() if get("mmlu_dir") else settings.default_mmlu_dir()
        self.mmlu_subjects: list[str] = _split(get("mmlu_subjects"))
        self.mmlu_categories: list[str] = _split(get("mmlu_categories"))
        self.mmlu_split: str = get("mmlu_split")
        self.mmlu_limit: int | None = get("mmlu_limit")
        self.mmlu_shots: int = get("mmlu_shots")
        formulation = get("mmlu_formulation")
        self.mmlu_formulations: list[str] = ["letter", "cloze"] if formulation == "both" else [formulation]
        self._validate()
        self._choice: ModelChoice | None = None
        self._mmlu_questions: dict[str, list[Any]] = {}

    def _validate(self) -> None:
        if self.limit is not None and self.limit < 1:
            raise UserError(f"--limit must be >= 1, got {self.limit}")
        bad = [h for h in self.hardness if h not in HARDNESS]
        if bad:
            raise UserError(f"--hardness: unknown level(s) {bad}; choose from {list(HARDNESS)}")
        for name, value in (
            ("--batch-size", self.batch_size),
            ("--max-new-tokens", self.max_new_tokens),
            ("--max-rows", self.max_rows),
        ):
            if value < 1:
                raise UserError(f"{name} must be >= 1, got {value}")
        if not self.query_timeout > 0:
            raise UserError(f"--query-timeout must be > 0, got {self.query_timeout}")
        if not 0.0 <= self.min_pass_rate <= 1.0:
            raise UserError(f"--min-pass-rate must be between 0 and 1, got {self.min_pass_rate}")
        if self.mmlu_limit is not None and self.mmlu_limit < 1:
            raise UserError(f"--mmlu-limit must be >= 1, got {self.mmlu_limit}")
        if not 0 <= self.mmlu_shots <= 5:
            raise UserError(
                f"--mmlu-shots must be between 0 and 5 (the dev split has 5 per subject), got {self.mmlu_shots}"
            )
        from tradeoff.suites.mmlu.categories import CATEGORIES, SUBJECTS

        bad = [c for c in self.mmlu_categories if c not in CATEGORIES]
        if bad:
            raise UserError(f"--mmlu-categories: unknown {bad}; choose from {list(CATEGORIES)}")
        bad = [s for s in self.mmlu_subjects if s not in SUBJECTS]
        if bad:
            raise UserError(
                f"--mmlu-subjects: unknown {bad}; see tradeoff/suites/mmlu/categories.py for the 57 subjects"
            )
        if self._spider_shots is not None and self._spider_shots < 0:
            raise UserError(f"--spider-shots must be >= 0, got {self._spider_shots}")

    @cached_property
    def spider_data(self) -> SpiderData:
        """The Spider directory, parsed once for the option checks, collection and results."""
        from tradeoff.suites.spider.data import SpiderData

        return SpiderData(self.spider_dir)

    @property
    def model(self) -> ModelChoice:
        """Resolved lazily: a missing adapter only matters when a suite needs the model."""
        if self._choice is None:
            self._choice = resolve_model(self.model_name, self.registry, self.base_model)
        return self._choice

    @property
    def spider_shots(self) -> int:
        return self._spider_shots if self._spider_shots is not None else self.model.spider_shots

    @property
    def label(self) -> str:
        """File-name-safe name of this model's results."""

        return re.sub(r"[^A-Za-z0-9._-]+", "_", self.model_name).strip("_") or "model"

    def check_data(self) -> None:
        """Fail early, in one line, on a missing or malformed data directory of a selected suite.

        The files are parsed here, before collection, so a malformed one is a usage error and
        not a collection error or one error per case. A problem of one database (file missing,
        not SQLite, no schema) only makes its cases unscorable: they are skipped with the reason.
        """
        if self.suite in ("all", "spider"):
            from tradeoff.suites.spider.prompts import choose_fewshot

            data = self.spider_data
            data.dev, data.schemas  # noqa: B018 - parse both files now
            if self.spider_shots:
                train = data.train()
                if self.spider_shots > len(train):
                    raise UserError(
                        f"--spider-shots {self.spider_shots}: the train split of {data.root} has only {len(train)} examples"
                    )
                for shot in choose_fewshot(train, self.spider_shots):
                    if shot.db_id not in data.schemas:
                        raise UserError(
                            f"Spider data: few-shot example from the train split uses database {shot.db_id!r}, "
                            f"which has no schema in {data.root / 'tables.json'} (or use --spider-shots 0)"
                        )
        if self.suite in ("all", "mmlu"):
            from tradeoff.suites.mmlu.data import MMLUDataError, list_subjects, load_split

            try:
                found = list_subjects(self.mmlu_dir, self.mmlu_split)
            except (MMLUDataError, OSError) as exc:
                raise UserError(f"MMLU data: {exc}") from None
            if not found:
                raise UserError(
                    f"MMLU data directory {self.mmlu_dir} has no {self.mmlu_split}/<subject>_{self.mmlu_split}.csv files"
                )
            for subject in found:
                if self.mmlu_subject_selected(subject):
                    self.mmlu_questions(subject)
                    if self.mmlu_shots:
                        try:
                            load_split(self.mmlu_dir, subject, "dev")
                        except (MMLUDataError, OSError) as exc:
                            raise UserError(f"MMLU data (few-shot examples): {exc}") from None

    def check_model(self) -> None:
        """Resolve --model and refuse an adapter trained on other base weights, before any work."""
        choice = self.model
        if choice.adapter_path is not None:
            from tradeoff.models.loading import base_identity, check_adapter_base

            check_adapter_base(choice.adapter_path, base_identity(choice.base))
            _check_adapter_config(choice.adapter_path)

    def check_results_dir(self) -> None:
        """Fail before any model work when results and reports could not be written."""
        where = self.results_dir
        if where.exists() and not where.is_dir():
            raise UserError(f"--results-dir {where}: exists and is not a directory")
        existing = where
        while not existing.exists():
            existing = existing.parent
        if not existing.is_dir():
            raise UserError(f"--results-dir {where}: cannot be created, {existing} is not a directory")
        if not os.access(existing, os.W_OK | os.X_OK):
            raise UserError(f"--results-dir {where}: {existing} is not writable")

    def mmlu_subject_selected(self, subject: str) -> bool:
        from tradeoff.suites.mmlu.categories import category_of

        if self.mmlu_subjects and subject not in self.mmlu_subjects:
            return False
        return not self.mmlu_categories or category_of(subject) in self.mmlu_categories

    def mmlu_questions(self, subject: str) -> list[Any]:
        """The subject's questions this run scores (file order, at most --mmlu-limit); read
        once, by the option checks, and reused by collection."""
        from tradeoff.suites.mmlu.data import MMLUDataError, load_split

        if subject not in self._mmlu_questions:
            try:
                questions = load_split(self.mmlu_dir, subject, self.mmlu_split)
            except MMLUDataError as exc:
                raise UserError(f"MMLU data: {exc}") from None
            self._mmlu_questions[subject] = questions[: self.mmlu_limit] if self.mmlu_limit is not None else questions
        return self._mmlu_questions[subject]


def _check_adapter_config(adapter: Path) -> None:
    """peft's own parser on adapter_config.json, so a corrupt adapter is one line, not a peft traceback."""
    from peft import PeftConfig

    try:
        PeftConfig.from_pretrained(str(adapter))
    except Exception as exc:  # noqa: BLE001 - peft raises ValueError, TypeError, JSONDecodeError ...
        raise UserError(
            f"adapter {adapter}: adapter_config.json is not a valid peft config ({type(exc).__name__}: {exc})"
        ) from None
