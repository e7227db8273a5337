"""The contract every benchmark suite implements (the one variation point between suites).

A suite is data plus five steps: the options it adds, a data check, its cases, the model
work for those cases (cache jobs and the compute step that fills them), and scoring one case
against its cached value; then summarising its records for the results JSON and the terminal.
Options, precompute, the pytest fixtures, the results collector and the per-run reports loop
over the registry (tradeoff/suites/registry.py) and never name a suite.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from tradeoff.inference.once_per_device import Compute, Job

if TYPE_CHECKING:
    from tradeoff.config.experiments import Registry
    from tradeoff.config.run_options import Options
    from tradeoff.models.loading import LoadedModel
    from tradeoff.records import CaseRecord

OptionSpec = tuple[str, dict[str, Any]]  # argparse/pytest addoption arguments: (flag, kwargs)
Getter = Callable[[str], Any]  # reads one option by its dest (pytest getoption or argparse namespace)
Record = Callable[[str, Any], None]  # pytest's record_property: one named value of the case's report


@dataclass(frozen=True)
class Case:
    """One collected case: its stable id (the pytest param id), what scoring needs, pytest
    markers to add, and a reason when the case is unscorable (shown as a skip, never run)."""

    case_id: str
    payload: Any
    marks: tuple[str, ...] = ()
    skip_reason: str | None = None


@dataclass(frozen=True)
class Verdict:
    passed: bool
    reason: str


@dataclass(frozen=True)
class Work:
    """The model work of a set of cases: one cache job per case and the step that computes them."""

    jobs: list[Job]
    compute: Compute


class ModelAccess(Protocol):
    """The model as a suite sees it: loaded only when something is not cached."""

    label: str
    batch_size: int

    def tokenizer(self) -> Any: ...

    def load(self) -> LoadedModel: ...


class Suite(Protocol):
    name: str  # the --suite value, the results key, the `suite` property of every case
    tests_dir: str  # its pytest folder, relative to the repository root (e.g. "tests/spider")
    markers: Sequence[str]  # "name: description" lines registered with pytest
    option_specs: Sequence[OptionSpec]

    def read_options(self, get: Getter, registry: Registry) -> Any:
        """This suite's validated options (raise UserError on bad values)."""
        ...

    def check_data(self, options: Options) -> None:
        """Fail in one line (UserError) on missing or malformed data, before collection."""
        ...

    def selects_module(self, options: Options, path: Path) -> bool:
        """Whether a test module of this suite is collected at all (MMLU subject selection)."""
        ...

    def cases(self, options: Options, part: str | None) -> list[Case]:
        """The cases of one test module's part (None: the whole selection), in a fixed order."""
        ...

    def work(self, options: Options, cases: Sequence[Case], model_key: str, model: ModelAccess) -> Work:
        """Cache jobs for the cases (keys hold everything a value depends on) and their compute step."""
        ...

    def imported(self, options: Options, cases: Sequence[Case], source: Path) -> dict[str, dict[str, Any]] | None:
        """The cases' values read from a predictions file made elsewhere (`--model predictions:FILE`),
        by case id, in the shape `work` would compute; None when this suite cannot take them (its
        cases are then skipped with the reason)."""
        ...

    def score(self, options: Options, case: Case, value: dict[str, Any], record: Record) -> Verdict:
        """One case's verdict from its cached value, recording what the results JSON keeps."""
        ...

    def marked_props(self, keywords: Any) -> dict[str, Any]:
        """Properties of a case that never ran (skipped), read from its pytest markers."""
        ...

    def summarize(self, records: list[CaseRecord]) -> dict[str, Any]:
        """The suite's block of results["suites"]."""
        ...

    def overalls(self, summary: dict[str, Any]) -> list[dict[str, Any]]:
        """Overall blocks the exit gate reads: each with `pass_rate` (None: not a pass rate) and `errors`."""
        ...

    def run_settings(self, options: Options) -> dict[str, Any]:
        """Settings this suite's numbers depend on (merged into results["settings"])."""
        ...

    def data_record(self, options: Options, records: list[CaseRecord]) -> dict[str, Any]:
        """Where the data came from and its checksums (merged into results["data"])."""
        ...

    def summary_lines(self, model: str, summary: dict[str, Any], settings: dict[str, Any]) -> list[str]:
        """The terminal (and pytest-html) summary of one run."""
        ...
