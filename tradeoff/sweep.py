"""Evaluate a set of models on the same cases, the base model loaded once, then the report.

    tradeoff sweep --models base-0shot,v1@step=10,v1@scale=0.5,v1 --limit 20 --suite all [--workers N]

Every model of the sweep (experiments, their snapshots `NAME@step=S`, λ points `NAME@scale=λ`)
is computed in one process, with adapters hot-swapped on the base model
(tradeoff/models/swap.py). With `--workers N` the models are dealt round robin to N computing
processes, each choosing its own device (one GPU each, as xdist workers do) and loading the base
model once. `pytest --model M` then scores each model from the cache, with the same options,
writing its results JSON and rebuilding the comparison report. Progress is shown per model.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from tradeoff.config.run_options import Options, option_specs, split_values
from tradeoff.errors import UserError
from tradeoff.inference import devices

OWN = (
    "--models",
    "--device",
    "--workers",
    "--compute-only",
)  # this command's own flags; every other flag goes to pytest too (its own, -n, -q, too)


def parse(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--models", action="append", required=True, help="models to evaluate (repeat or comma-separate)"
    )
    parser.add_argument("--device", default=None, help="torch device (default: this process's GPU, else cpu)")
    parser.add_argument(
        "--workers", type=int, default=1, help="computing processes, the models dealt round robin (default 1)"
    )
    parser.add_argument("--compute-only", action="store_true", help=argparse.SUPPRESS)  # a worker of --workers N
    for name, kwargs in option_specs():
        if name != "--model":
            parser.add_argument(name, **kwargs)
    args, _ = parser.parse_known_args(argv)  # pytest's own flags (-n 2, -q, -p ...) pass through to it
    passthrough, skip = [], False
    for i, arg in enumerate(argv):
        if skip:
            skip = False
            continue
        flag = arg.split("=", 1)[0]
        if flag in OWN:
            skip = "=" not in arg and i + 1 < len(argv)
            continue
        passthrough.append(arg)
    return args, passthrough


def _getter(args: argparse.Namespace, model: str) -> Callable[[str], Any]:
    """The run options of one model of the sweep: the shared flags, and this model."""

    def get(dest: str) -> Any:
        return model if dest == "model" else getattr(args, dest)

    return get


def compute(runs: list[Options], label: str) -> None:
    """Fill the cache for every model of `runs` in this process, on one base load."""
    from tradeoff import precompute
    from tradeoff.models.swap import AdapterHost, SwappedModel

    host = AdapterHost(runs[0].device)
    for i, options in enumerate(runs, 1):
        start = time.perf_counter()
        print(f"[{label} {i}/{len(runs)}] computing {options.model_name} ...", file=sys.stderr, flush=True)
        model = SwappedModel(host, options.model, options.model_name, options.batch_size)
        done = precompute.run(options, model)
        counts = ", ".join(f"{s.name} {done[s.name]['cases']}" for s in options.suites)
        print(
            f"[{label} {i}/{len(runs)}] {options.model_name}: {counts} in {time.perf_counter() - start:.0f} s",
            file=sys.stderr,
        )
    print(f"[{label}] base model loaded {host.base_loads} time(s) for {len(runs)} models", file=sys.stderr)


def compute_in_workers(models: list[str], workers: int, passthrough: list[str]) -> None:
    """Deal the models round robin to `workers` child processes and wait for all of them.

    Each child is `tradeoff sweep --compute-only` on its share, told its number through
    $TRADEOFF_SWEEP_WORKER so that it picks its own device; on the CPU the cores are split
    between them unless $TRADEOFF_THREADS says otherwise."""
    from tradeoff.config.settings import ENV_SWEEP_WORKER, ENV_THREADS

    shares = [models[i::workers] for i in range(workers) if models[i::workers]]
    children = []
    for i, share in enumerate(shares):
        env = dict(os.environ, **{ENV_SWEEP_WORKER: str(i)})
        env.setdefault(ENV_THREADS, str(max(1, (os.cpu_count() or 1) // len(shares))))
        cmd = [sys.executable, "-m", "tradeoff.cli", "sweep", "--compute-only", "--models", ",".join(share)]
        children.append(subprocess.Popen([*cmd, *passthrough], env=env))
    failed = [",".join(share) for share, child in zip(shares, children) if child.wait() != 0]
    if failed:
        raise UserError("sweep: a computing worker failed for " + "; ".join(failed))


def main(argv: list[str] | None = None) -> int:
    args, passthrough = parse(list(sys.argv[1:] if argv is None else argv))
    models = split_values(args.models)
    if len(set(models)) != len(models):
        raise UserError(f"--models names a model twice: {models}")
    if args.workers < 1:
        raise UserError(f"--workers must be >= 1, got {args.workers}")
    # a computing process's own choice (its number picks the GPU); a controller of N workers
    # computes nothing, so it never touches a GPU
    computes = args.compute_only or args.workers == 1
    device = args.device or (devices.worker_device() if computes else None)
    runs = []
    for name in models:  # every model resolved and checked before any work
        options = Options(_getter(args, name))
        if device is not None:
            options.device = device
        options.check_model()
        if options.model.predictions is not None:
            raise UserError(f"--models: {name} is a predictions file, nothing to compute; run pytest on it")
        runs.append(options)
    runs[0].check_data()
    if args.compute_only:
        compute(runs, f"sweep worker {devices.worker_index() + 1}")
        return 0
    if args.workers == 1:
        compute(runs, "sweep")
    else:
        device_flag = [f"--device={args.device}"] if args.device else []
        compute_in_workers(models, args.workers, [*device_flag, *passthrough])
    failed = []
    for i, options in enumerate(runs, 1):
        print(
            f"[sweep {i}/{len(runs)}] scoring {options.model_name} (pytest, from the cache)",
            file=sys.stderr,
            flush=True,
        )
        status = subprocess.call([sys.executable, "-m", "pytest", "--model", options.model_name, *passthrough])
        if status not in (0, 1):  # 1: the exit gate (a measurement), not a failure to measure
            failed.append(f"{options.model_name} (pytest exit status {status})")
    if failed:
        raise UserError("sweep: scoring failed for " + ", ".join(failed))
    print(f"[sweep] comparison report: {runs[0].results_dir / 'report' / 'index.html'}")
    return 0


if __name__ == "__main__":
    from tradeoff.cli import guarded

    sys.exit(guarded(lambda: main()))
