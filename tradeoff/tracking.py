"""Experiment trackers (TensorBoard, Weights & Biases, MLflow): one home for the names, the
offline defaults, and logging a benchmark run's results the way `train.py --report-to` logs
training.

    tradeoff log-results --results out/results/v1.json --to tensorboard --log-dir out/tracking

Each tracker writes offline under the given folder unless the user configured it otherwise
(WANDB_MODE, MLFLOW_TRACKING_URI, ...), since nothing here may reach a server. A results JSON
becomes one step of scalar metrics named `<suite>/<path>` (e.g. `spider/overall/pass_rate`,
`mmlu/cloze/by_category/STEM/pass_rate`, an interval as `.../ci95_low` and `.../ci95_high`), and
the model's identity and settings become the run's parameters.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from tradeoff.errors import UserError
from tradeoff.files import read_results_json

TRACKERS = {"tensorboard": "tensorboard", "wandb": "wandb", "mlflow": "mlflow"}  # name -> package it needs
_NOT_METRICS = {"failures", "variant_definitions", "reasons"}  # per-case lists and prose, not figures


def check_trackers(names: Sequence[str], option: str = "--report-to") -> list[str]:
    """The names, each known and its package installed; checked before any work starts."""
    out = []
    for name in names:
        if name not in TRACKERS:
            raise UserError(f"{option} {name}: choose from {sorted(TRACKERS)}")
        if importlib.util.find_spec(TRACKERS[name]) is None:
            raise UserError(
                f"{option} {name}: the {TRACKERS[name]} package is not installed (pip install '.[tracking]')"
            )
        out.append(name)
    return out


def offline_defaults(trackers: Sequence[str], folder: Path) -> None:
    """Point each tracker at files under `folder`, keeping whatever the user set already."""
    if "tensorboard" in trackers:
        os.environ.setdefault("TENSORBOARD_LOGGING_DIR", str(folder / "tensorboard"))
    if "wandb" in trackers:
        os.environ.setdefault("WANDB_MODE", "offline")
        os.environ.setdefault("WANDB_DIR", str(folder))
    if "mlflow" in trackers:
        os.environ.setdefault("MLFLOW_TRACKING_URI", (folder / "mlruns").as_uri())


def _walk(prefix: str, node: Any) -> Iterator[tuple[str, float]]:
    if isinstance(node, bool):
        return
    if isinstance(node, int | float):
        yield prefix, float(node)
    elif isinstance(node, Mapping):
        for key, value in node.items():
            if key not in _NOT_METRICS:
                yield from _walk(f"{prefix}/{key}", value)
    elif isinstance(node, list | tuple) and prefix.endswith("ci95") and len(node) == 2:
        yield from _walk(f"{prefix}_low", node[0])
        yield from _walk(f"{prefix}_high", node[1])


def results_metrics(results: Mapping[str, Any]) -> dict[str, float]:
    """Every figure of the results' suite summaries, flattened to `<suite>/<path>` names."""
    suites = results.get("suites")
    if not isinstance(suites, Mapping) or not suites:
        raise UserError("the results hold no suite summaries to log")
    metrics: dict[str, float] = {}
    for suite, summary in suites.items():
        metrics.update(_walk(str(suite), summary))
    return metrics


def results_params(results: Mapping[str, Any]) -> dict[str, str]:
    """The run's identity as tracker parameters: model, identity fields, settings."""
    params = {"model": str(results.get("model", ""))}
    for group in ("identity", "settings"):
        for key, value in (results.get(group) or {}).items():
            params[f"{group}.{key}"] = json.dumps(value) if not isinstance(value, str) else value
    return params


def log_results(results: Mapping[str, Any], trackers: Sequence[str], folder: Path) -> dict[str, float]:
    """Log one results JSON to each tracker (offline under `folder`); the metrics logged."""
    metrics = results_metrics(results)
    params = results_params(results)
    name = params["model"] or "run"
    offline_defaults(trackers, folder)
    if "tensorboard" in trackers:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(log_dir=str(Path(os.environ["TENSORBOARD_LOGGING_DIR"]) / name))
        for tag, value in metrics.items():
            writer.add_scalar(tag, value, 0)
        writer.add_text("identity", "\n".join(f"    {k} = {v}" for k, v in params.items()), 0)
        writer.close()
    if "mlflow" in trackers:
        import mlflow

        with mlflow.start_run(run_name=name):
            mlflow.log_params({k: v[:500] for k, v in params.items()})
            mlflow.log_metrics(metrics, step=0)
    if "wandb" in trackers:
        import wandb

        run = wandb.init(project="sql-tradeoff-bench", name=name, config=params, dir=os.environ.get("WANDB_DIR"))
        run.log(metrics, step=0)
        run.finish()
    return metrics


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", required=True, type=Path, nargs="+", help="results JSON files")
    parser.add_argument("--to", required=True, action="append", help="tensorboard, wandb or mlflow (repeatable)")
    parser.add_argument("--log-dir", type=Path, default=Path("out/tracking"), help="where offline trackers write")
    args = parser.parse_args(argv)
    trackers = check_trackers([n for value in args.to for n in value.split(",") if n], option="--to")
    loaded = []
    for path in args.results:
        results = read_results_json(path, f"--results {path}")
        results_metrics(results)  # every file is checked before anything is logged
        loaded.append((path, results))
    for path, results in loaded:
        metrics = log_results(results, trackers, args.log_dir)
        print(f"{path}: {len(metrics)} metrics logged to {', '.join(trackers)} under {args.log_dir}")
    return 0
