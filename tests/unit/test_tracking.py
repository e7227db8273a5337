"""Benchmark results logged to experiment trackers (tradeoff.tracking), TensorBoard for real."""

from __future__ import annotations

import json

import pytest

from tradeoff.cli import main as cli
from tradeoff.errors import UserError
from tradeoff.tracking import check_trackers, log_results, results_metrics

RESULTS = {
    "model": "v1",
    "identity": {"base": "tiny", "adapter_sha256": "ab" * 32},
    "settings": {"spider_shots": 0, "mmlu_formulations": ["letter", "cloze"]},
    "suites": {
        "spider": {
            "collected": 3,
            "variant_definitions": {"official": "prose, not a figure"},
            "overall": {"scored": 2, "passed": 1, "pass_rate": 0.5, "ci95": [0.1, 0.9], "truncated": 0},
            "failures": {"wrong": ["db-0001"]},
        },
        "mmlu": {"cloze": {"overall": {"scored": 4, "pass_rate": 0.25}, "by_category": {"STEM": {"pass_rate": 0.0}}}},
    },
}


def test_metrics_are_every_figure_of_the_summaries_with_intervals_split():
    metrics = results_metrics(RESULTS)
    assert metrics == {
        "spider/collected": 3.0,
        "spider/overall/scored": 2.0,
        "spider/overall/passed": 1.0,
        "spider/overall/pass_rate": 0.5,
        "spider/overall/ci95_low": 0.1,
        "spider/overall/ci95_high": 0.9,
        "spider/overall/truncated": 0.0,
        "mmlu/cloze/overall/scored": 4.0,
        "mmlu/cloze/overall/pass_rate": 0.25,
        "mmlu/cloze/by_category/STEM/pass_rate": 0.0,
    }


def test_results_logged_to_tensorboard_read_back(tmp_path, monkeypatch):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    monkeypatch.delenv("TENSORBOARD_LOGGING_DIR", raising=False)
    path = tmp_path / "v1.json"
    path.write_text(json.dumps(RESULTS))
    assert cli(["log-results", "--results", str(path), "--to", "tensorboard", "--log-dir", str(tmp_path / "t")]) == 0
    events = list((tmp_path / "t" / "tensorboard" / "v1").glob("events.out.tfevents.*"))
    assert len(events) == 1
    acc = EventAccumulator(str(events[0].parent))
    acc.Reload()
    read = {tag: acc.Scalars(tag)[0].value for tag in acc.Tags()["scalars"]}
    assert read == pytest.approx(results_metrics(RESULTS))


def test_unknown_tracker_and_bad_results_are_one_line_errors(tmp_path, capsys):
    with pytest.raises(UserError, match="choose from"):
        check_trackers(["tensorbored"])
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert cli(["log-results", "--results", str(bad), "--to", "tensorboard", "--log-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --results")
    with pytest.raises(UserError, match="no suite summaries"):
        log_results({"model": "x", "suites": {}}, ["tensorboard"], tmp_path)


def test_train_checks_tracker_names_before_the_if_missing_shortcut():
    from tradeoff.training.trainer import train

    with pytest.raises(UserError, match="--report-to nope: choose from"):
        train("no-such-experiment", report_to=["nope"], if_missing=True)
