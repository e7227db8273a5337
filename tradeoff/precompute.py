"""Fill the prediction cache without pytest: generate Spider SQL and score MMLU for a model.

    tradeoff precompute --model v1 --suite spider,mmlu --mmlu-formulation both

Takes the benchmark's own options and writes the same cache entries the pytest fixtures
would, so a GPU machine can do the model work and `pytest --model v1` anywhere else (with
the same cache file, `$TRADEOFF_CACHE_DIR/predictions.sqlite`) only scores. Needs neither
deepeval nor pytest.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from tradeoff.config import settings
from tradeoff.config.run_options import Options, option_specs
from tradeoff.errors import UserError
from tradeoff.inference import devices
from tradeoff.suites.api import ModelAccess


def parse(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for name, kwargs in option_specs():
        parser.add_argument(name, **kwargs)
    parser.add_argument("--device", default=None, help="torch device (default: this process's GPU, else cpu)")
    args = parser.parse_args(argv)
    options = Options(lambda dest: getattr(args, dest))
    options.device = args.device or devices.worker_device()
    return options


def run(options: Options, model: ModelAccess | None = None) -> dict[str, Any]:
    """Compute what the cache lacks for the selected suites; returns counts and timings.

    `model`: how the model is reached (default: loaded here on first need; `tradeoff sweep`
    passes adapters swapped on one shared base)."""
    from tradeoff.inference.cache import PredictionCache
    from tradeoff.inference.once_per_device import compute_once
    from tradeoff.inference.provenance import environment, environment_key, process_record, write_environment
    from tradeoff.models.access import LazyModel
    from tradeoff.models.identity import identity_key, model_identity
    from tradeoff.models.loading import dtype_name

    if options.model.predictions is not None:
        raise UserError(f"--model {options.model_name} is a predictions file: nothing to compute; run pytest on it")
    options.check_data()
    device = options.device
    compute = (device, dtype_name(options.model.base.dtype, device), options.batch_size)
    key = environment_key(identity_key(model_identity(options.model)), environment(*compute))  # as fixtures key it
    made_by = process_record(*compute)
    write_environment(settings.cache_dir(), environment(*compute))  # for `pytest --computed-on` elsewhere
    cache = PredictionCache(settings.cache_dir() / "predictions.sqlite")
    if model is None:
        model = LazyModel(options.model, device, options.model_name, options.batch_size)
    locks = settings.cache_dir() / "locks"
    report: dict[str, Any] = {"model": options.model_name, "model_key": key}
    for suite in options.suites:
        cases = [c for c in suite.cases(options, None) if c.skip_reason is None]
        work = suite.work(options, cases, key, model)
        start = time.perf_counter()
        compute_once(cache, key, work.jobs, locks, 0, 1, work.compute, made_by)
        report[suite.name] = {"cases": len(work.jobs), "seconds": time.perf_counter() - start}
    cache.close()
    report["model_loaded"] = bool(getattr(model, "loaded", False))
    return report


def main(argv: list[str] | None = None) -> int:
    try:
        report = run(parse(argv))
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
