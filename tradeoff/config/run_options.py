"""The benchmark's run options, declared once for pytest (fixtures/options.py) and for the
`tradeoff precompute` command, and validated once so bad input is one clear line.

The options every run has are here; each suite adds its own (tradeoff/suites/*/suite.py),
read and validated by the suite into `options.of(name)`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tradeoff.config import settings
from tradeoff.config.experiments import ModelChoice, Registry, load_registry, resolve_model, slug
from tradeoff.errors import UserError
from tradeoff.suites import registry as suites
from tradeoff.suites.api import OptionSpec, Suite

CORE_OPTION_SPECS: list[OptionSpec] = [
    ("--model", dict(default="base", help="experiment name (base, v1, v2), model/adapter path or hub id")),
    (
        "--base-model",
        dict(default=None, help="base model key from experiments.toml (default: its defaults.base_model)"),
    ),
    ("--experiments", dict(default=None, help="experiments file (default experiments.toml or $TRADEOFF_EXPERIMENTS)")),
    (
        "--suite",
        dict(
            action="append",
            default=[],
            help=f"suite(s) to run, repeat or comma-separate: {', '.join(suites.REGISTERED)} or all "
            f"(default {','.join(suites.DEFAULT)})",
        ),
    ),
    ("--batch-size", dict(type=int, default=None, help="generation and scoring batch size")),
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


def option_specs() -> list[OptionSpec]:
    """Every option: the core ones, then each registered suite's (all suites, whichever a run selects)."""
    return CORE_OPTION_SPECS + [spec for suite in suites.all_suites() for spec in suite.option_specs]


def _computed_on(path: str | None) -> dict[str, Any] | None:
    """The computing environment a cache was filled in, declared by the file precompute wrote."""
    if not path:
        return None
    from tradeoff.inference.provenance import read_environment

    return read_environment(Path(path).expanduser())


def given(value: Any, default: Any) -> Any:
    """`is None`, not `or`: an explicit 0 is a value to reject, not a request for the default."""
    return default if value is None else value


def split_values(values: list[str]) -> list[str]:
    """A repeatable option's values, each of which may also be comma-separated."""
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


def at_least(name: str, value: int | None, low: int) -> None:
    if value is not None and value < low:
        raise UserError(f"{name} must be >= {low}, got {value}")


class Options:
    """The validated options; `get(dest)` reads one (pytest's getoption or getattr on argparse's namespace)."""

    device: str = "cpu"  # the torch device of a pytest-free command (precompute); workers choose their own

    def __init__(self, get: Callable[[str], Any]) -> None:
        self.registry: Registry = load_registry(Path(get("experiments")) if get("experiments") else None)
        self.base_model: str | None = get("base_model") or os.environ.get(settings.ENV_BASE_MODEL)
        self.model_name: str = get("model")
        self.computed_on: dict[str, Any] | None = _computed_on(get("computed_on"))
        self.suites: list[Suite] = suites.select(split_values(get("suite") or []))
        self.batch_size: int = given(get("batch_size"), self.registry.evaluation.batch_size)
        self.min_pass_rate: float = get("min_pass_rate")
        self.results_dir = Path(get("results_dir")).expanduser() if get("results_dir") else settings.output_dir()
        at_least("--batch-size", self.batch_size, 1)
        if not 0.0 <= self.min_pass_rate <= 1.0:
            raise UserError(f"--min-pass-rate must be between 0 and 1, got {self.min_pass_rate}")
        # every suite's options are validated, selected or not: a typo is an error either way
        self._of: dict[str, Any] = {s.name: s.read_options(get, self.registry) for s in suites.all_suites()}
        self._choice: ModelChoice | None = None

    def of(self, suite: str) -> Any:
        """The options of one suite, as its read_options validated them."""
        return self._of[suite]

    def selected(self, suite: str) -> bool:
        return any(s.name == suite for s in self.suites)

    @property
    def model(self) -> ModelChoice:
        """Resolved lazily: a missing adapter only matters when a suite needs the model."""
        if self._choice is None:
            self._choice = resolve_model(self.model_name, self.registry, self.base_model)
        return self._choice

    @property
    def label(self) -> str:
        """File-name-safe name of this model's results."""
        return slug(self.model_name)

    def check_data(self) -> None:
        """Each selected suite's data, parsed now: a malformed file is a usage error, not one error per case."""
        for suite in self.suites:
            suite.check_data(self)
            source = self.model.predictions
            if source is not None:  # a file that misses a selected case is one line now, not an error per case
                suite.imported(self, [c for c in suite.cases(self, None) if c.skip_reason is None], source)

    def check_model(self) -> None:
        """Resolve --model and refuse an adapter trained on other base weights, before any work."""
        choice = self.model
        if choice.adapter_path is not None:
            from tradeoff.models.identity import base_identity, check_adapter_base

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


def _check_adapter_config(adapter: Path) -> None:
    """peft's own parser on adapter_config.json, so a corrupt adapter is one line, not a peft traceback."""
    from peft import PeftConfig

    try:
        PeftConfig.from_pretrained(str(adapter))
    except Exception as exc:  # noqa: BLE001 - peft raises ValueError, TypeError, JSONDecodeError ...
        raise UserError(
            f"adapter {adapter}: adapter_config.json is not a valid peft config ({type(exc).__name__}: {exc})"
        ) from None
