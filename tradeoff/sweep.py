"""Evaluate a set of models on the same cases, the base model loaded once, then the report.

    tradeoff sweep --models base-0shot,v1@step=10,v1@scale=0.5,v1 --limit 20 --suite all

Every model of the sweep (experiments, their snapshots `NAME@step=S`, λ points `NAME@scale=λ`)
is computed in this one process, with adapters hot-swapped on the base model
(tradeoff/models/swap.py). `pytest --model M` then scores each model from the cache, with the
same options, writing its results JSON and rebuilding the comparison report. Progress is shown
per model.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from tradeoff.config.run_options import Options, option_specs, split_values
from tradeoff.errors import UserError
from tradeoff.inference import devices

OWN = ("--models", "--device")  # this command's own flags; every other flag goes to pytest too (its own, -n, -q, too)


def parse(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--models", action="append", required=True, help="models to evaluate (repeat or comma-separate)"
    )
    parser.add_argument("--device", default=None, help="torch device (default: this process's GPU, else cpu)")
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


def main(argv: list[str] | None = None) -> int:
    from tradeoff import precompute
    from tradeoff.models.swap import AdapterHost, SwappedModel

    args, passthrough = parse(list(sys.argv[1:] if argv is None else argv))
    models = split_values(args.models)
    if len(set(models)) != len(models):
        raise UserError(f"--models names a model twice: {models}")
    device = args.device or devices.worker_device()
    runs = []
    for name in models:  # every model resolved and checked before any work
        options = Options(_getter(args, name))
        options.device = device
        options.check_model()
        if options.model.predictions is not None:
            raise UserError(f"--models: {name} is a predictions file, nothing to compute; run pytest on it")
        runs.append(options)
    runs[0].check_data()
    host = AdapterHost(device)
    for i, options in enumerate(runs, 1):
        start = time.perf_counter()
        print(f"[sweep {i}/{len(runs)}] computing {options.model_name} ...", file=sys.stderr, flush=True)
        model = SwappedModel(host, options.model, options.model_name, options.batch_size)
        done = precompute.run(options, model)
        counts = ", ".join(f"{s.name} {done[s.name]['cases']}" for s in options.suites)
        print(
            f"[sweep {i}/{len(runs)}] {options.model_name}: {counts} in {time.perf_counter() - start:.0f} s",
            file=sys.stderr,
        )
    print(f"[sweep] base model loaded {host.base_loads} time(s) for {len(runs)} models", file=sys.stderr)
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
