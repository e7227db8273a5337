"""Controller-side plugin: gathers every case's report (also from xdist workers), writes the
results JSON and the pytest-html report, prints the summary, and applies the exit gate.

Failing cases are the measurement, so they do not fail the run: the exit status is 0 when
every suite's pass rate is at least --min-pass-rate and nothing errored, else 1.
"""

from __future__ import annotations

import os
import platform
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from fixtures.options import get_options, runs_benchmark
from fixtures.plugin import FATAL
from metrics.hardness import LEVELS
from reports.summary import CaseRecord, format_mmlu_summary, format_spider_summary, summarize_mmlu, summarize_spider
from tradeoff.errors import UserError
from tradeoff.files import write_json_atomic

_RECORDS = pytest.StashKey[list[CaseRecord]]()
_STARTED = pytest.StashKey[float]()
_RESULTS = pytest.StashKey[tuple[dict[str, Any], Path]]()
_COMPARISON = pytest.StashKey[str]()
VERSIONED = ("torch", "transformers", "peft", "deepeval", "sqlglot", "lm-eval", "pytest", "pytest-xdist")


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def _active(config: pytest.Config) -> bool:
    return not _is_worker(config) and runs_benchmark(config)


def report_dir(config: pytest.Config) -> Path:
    options = get_options(config)
    return options.results_dir / "runs" / options.label


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.stash[_RECORDS] = []
    config.stash[_STARTED] = time.time()
    if not _active(config):
        return
    config.pluginmanager.register(_Collector(config), "tradeoff-collector")
    # A wrong answer is a measurement: its reason is in the results and HTML report, so the
    # terminal shows no traceback or "FAILED" line per case unless asked (--tb, -r).
    if config.option.tbstyle == "auto":
        config.option.tbstyle = "no"
    if config.option.reportchars == "fE":
        config.option.reportchars = "E"
    if not config.getoption("htmlpath", None):
        # Every benchmark run leaves a self-contained pytest-html page beside its results.
        config.option.htmlpath = str(report_dir(config) / "pytest.html")
        config.option.self_contained_html = True


def _suite(report: pytest.TestReport) -> str | None:
    props = dict(report.user_properties)
    if "suite" in props:
        return str(props["suite"])
    for suite in ("spider", "mmlu"):
        if suite in report.keywords:
            return suite
    return None


class _Collector:
    """Registered on the controller only; xdist replays workers' reports here."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        record = to_record(report)
        if record is not None:
            self.config.stash[_RECORDS].append(record)


def to_record(report: pytest.TestReport) -> CaseRecord | None:
    """A benchmark case's final outcome, from its setup or call report."""
    suite = _suite(report)
    if suite is None:
        return None
    props = dict(report.user_properties)
    case_id = report.nodeid.rsplit("[", 1)[-1].rstrip("]")
    if report.when == "call":
        outcome = "passed" if report.passed else "skipped" if report.skipped else "failed"
    elif report.skipped:
        outcome = "skipped"
    elif report.failed:
        outcome = "error"
    else:
        return None
    skip_reason = None
    if outcome == "skipped" and isinstance(report.longrepr, tuple):
        skip_reason = str(report.longrepr[2]).removeprefix("Skipped: ")
    if suite == "spider" and "hardness" not in props:
        props["hardness"] = next((h for h in LEVELS if h in report.keywords), "unknown")
    return CaseRecord(suite, case_id, outcome, props, skip_reason, report.duration)


def _versions() -> dict[str, str]:
    from tradeoff.provenance import package_versions

    return {"python": platform.python_version(), **package_versions(VERSIONED)}


def _project_state() -> dict[str, Any]:
    from tradeoff.provenance import git_state

    return dict(git_state())


def generated_by(records: list[CaseRecord]) -> list[dict[str, Any]]:
    """The processes that computed this run's predictions and scores (read from the prediction
    cache, where each row names its writer), with how many cases of each suite each one made."""
    from tradeoff import settings
    from tradeoff.prediction_cache import PredictionCache

    counts: dict[str | None, dict[str, int]] = {}
    for r in records:
        if r.outcome in ("passed", "failed"):
            made = counts.setdefault(r.props.get("generated_by"), {})
            made[r.suite] = made.get(r.suite, 0) + 1
    if not counts:
        return []
    try:
        cache = PredictionCache(settings.cache_dir() / "predictions.sqlite")
        try:
            known = cache.records(i for i in counts if i)
        finally:
            cache.close()
    except (UserError, sqlite3.Error):  # the measurement stands without its provenance
        known = {}
    return [{"id": i, "cases": made, "process": known.get(i) if i else None} for i, made in counts.items()]


def build_results(config: pytest.Config) -> dict[str, Any]:
    from tradeoff.modeling import model_identity

    options = get_options(config)
    recorded: list[CaseRecord] = config.stash[_RECORDS]
    records = sorted(recorded, key=lambda r: (r.suite, r.case_id))
    results: dict[str, Any] = {
        "model": options.model_name,
        "base_model": options.model.base.name,
        "base_source": options.model.base.source,
        "identity": model_identity(options.model),
        "settings": {
            "spider_shots": options.spider_shots,
            "max_new_tokens": options.max_new_tokens,
            "batch_size": options.batch_size,
            "query_timeout_s": options.query_timeout,
            "max_rows": options.max_rows,
            "limit": options.limit,
        },
        "versions": _versions(),  # the scoring process's; `generated_by` holds the generating processes'
        "project": _project_state(),
        "hardware": {"machine": platform.machine(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "started": config.stash[_STARTED],
        "duration_s": time.time() - config.stash[_STARTED],
        "suites": {},
        "cases": [r.to_json() for r in records],
    }
    results["generated_by"] = generated_by(records)
    spider = [r for r in records if r.suite == "spider"]
    if spider:
        from tradeoff.spider_data import database_set_fingerprint

        data = options.spider_data
        results["suites"]["spider"] = summarize_spider(spider)
        sums = data.checksums(sorted({r.props.get("db_id", r.case_id.rsplit("-", 1)[0]) for r in spider}))
        results["data"] = {
            "spider_dir": str(options.spider_dir),
            "spider_sha256": sums,
            "spider_database_set": database_set_fingerprint(sums),
        }
    mmlu = [r for r in records if r.suite == "mmlu"]
    if mmlu:
        from tradeoff.mmlu_data import data_checksum

        results["suites"]["mmlu"] = summarize_mmlu(mmlu)
        subjects = sorted({r.props.get("subject", r.case_id.split("-")[0]) for r in mmlu})
        results["settings"].update(
            mmlu_split=options.mmlu_split,
            mmlu_shots=options.mmlu_shots,
            mmlu_limit=options.mmlu_limit,
            mmlu_formulations=options.mmlu_formulations,
        )
        results.setdefault("data", {}).update(
            mmlu_dir=str(options.mmlu_dir),
            mmlu_sha256=data_checksum(options.mmlu_dir, subjects, options.mmlu_split),
        )
    return results


def _overalls(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Every suite's overall block (MMLU has one per formulation)."""
    out = []
    if "spider" in results["suites"]:
        out.append({**results["suites"]["spider"]["overall"], "errors": results["suites"]["spider"]["errors"]})
    for block in results["suites"].get("mmlu", {}).values():
        out.append({**block["overall"], "errors": block["errors"]})
    return out


def _gate(results: dict[str, Any], min_pass_rate: float) -> int:
    for overall in _overalls(results):
        if overall["errors"]:
            return 1
        rate = overall["pass_rate"]
        if rate is not None and rate < min_pass_rate:
            return 1
    return 0


@pytest.hookimpl(tryfirst=True)  # before pytest-html renders its summary
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if not _active(config) or not config.stash[_RECORDS]:
        return
    if any(FATAL in r.props for r in config.stash[_RECORDS]):
        return  # a run stopped by a user error (fixtures/plugin.py) keeps the previous results
    results = build_results(config)
    out = report_dir(config)
    out.mkdir(parents=True, exist_ok=True)
    path = get_options(config).results_dir / "results" / f"{get_options(config).label}.json"
    write_json_atomic(path, results, indent=1)
    config.stash[_RESULTS] = (results, path)
    config.stash[_COMPARISON] = _comparison_report(get_options(config).results_dir)
    if exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        session.exitstatus = _gate(results, get_options(config).min_pass_rate)


def _comparison_report(results_dir: Path) -> str:
    """Rebuild the cross-model report from every results JSON in the results dir.

    This run's own results are already on disk, so a report that cannot be built is told,
    not raised: the measurement is not lost to a plotting problem.
    """
    from reports.compare import build_report

    try:
        return f"comparison report: {build_report(results_dir).resolve()}"
    except Exception as exc:  # noqa: BLE001 - shown in the summary; `python -m reports.compare` reproduces it
        return f"comparison report NOT built ({type(exc).__name__}: {exc}); retry: python -m reports.compare"


def run_results(config: pytest.Config) -> dict[str, Any] | None:
    """This run's results once the session finished (for the HTML summary), else None."""
    return config.stash[_RESULTS][0] if _RESULTS in config.stash else None


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if _RESULTS not in config.stash:
        return
    results, path = config.stash[_RESULTS]
    terminalreporter.section("benchmark summary")
    if "spider" in results["suites"]:
        for line in format_spider_summary(results["model"], results["suites"]["spider"]):
            terminalreporter.write_line(line)
    if "mmlu" in results["suites"]:
        st = results["settings"]
        for line in format_mmlu_summary(
            results["model"], results["suites"]["mmlu"], st["mmlu_split"], st["mmlu_shots"]
        ):
            terminalreporter.write_line(line)
    terminalreporter.write_line(f"results JSON: {path}")
    if config.getoption("htmlpath", None):
        terminalreporter.write_line(f"HTML report: {Path(config.getoption('htmlpath')).resolve()}")
    if _COMPARISON in config.stash:
        terminalreporter.write_line(config.stash[_COMPARISON])
    gate = get_options(config).min_pass_rate
    terminalreporter.write_line(f"exit gate: pass rate >= {gate:.2f} and no errors")
