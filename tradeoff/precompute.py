"""Fill the prediction cache without pytest: generate Spider SQL and score MMLU for a model.

    python -m tradeoff.precompute --model v1 --suite all --mmlu-formulation both

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
from tradeoff.config.run_options import OPTION_SPECS, Options
from tradeoff.errors import UserError
from tradeoff.inference import devices


def parse(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for name, kwargs in OPTION_SPECS:
        parser.add_argument(name, **kwargs)
    parser.add_argument("--device", default=None, help="torch device (default: this process's GPU, else cpu)")
    args = parser.parse_args(argv)
    options = Options(lambda dest: getattr(args, dest))
    options.device = args.device or devices.worker_device()
    return options


def run(options: Options) -> dict[str, Any]:
    """Compute what the cache lacks for the selected suites; returns counts and timings."""
    from tradeoff.inference.cache import PredictionCache
    from tradeoff.inference.once_per_device import compute_once
    from tradeoff.inference.provenance import environment, environment_key, process_record, write_environment
    from tradeoff.models.loading import (
        base_location,
        dtype_name,
        identity_key,
        load_model,
        load_tokenizer,
        model_identity,
    )

    options.check_data()
    identity = model_identity(options.model)
    device = options.device
    compute = (device, dtype_name(options.model.base.dtype, device), options.batch_size)
    key = environment_key(identity_key(identity), environment(*compute))  # as fixtures/models.py keys it
    made_by = process_record(*compute)
    write_environment(settings.cache_dir(), environment(*compute))  # for `pytest --computed-on` elsewhere
    cache = PredictionCache(settings.cache_dir() / "predictions.sqlite")
    loaded: list[Any] = []

    def load() -> Any:
        if not loaded:
            loaded.append(load_model(options.model, device))
        return loaded[0]

    locks = settings.cache_dir() / "locks"
    report: dict[str, Any] = {"model": options.model_name, "model_key": key}
    if options.suite in ("all", "spider"):
        from tradeoff.suites.spider.jobs import select_cases, spider_generator, spider_jobs

        data = options.spider_data
        cases = [c for c, skip in select_cases(data, options.spider_dbs, options.hardness, options.limit) if not skip]
        tokenizer = load_tokenizer(base_location(options.model.base, identity), identity.get("revision"))
        jobs = spider_jobs(data, cases, tokenizer, key, options.spider_shots, options.max_new_tokens)
        start = time.perf_counter()
        compute_once(
            cache,
            key,
            jobs,
            locks,
            0,
            1,
            spider_generator(load, options.max_new_tokens, options.batch_size, options.model_name),
            made_by,
        )
        report["spider"] = {"cases": len(jobs), "seconds": time.perf_counter() - start}
    if options.suite in ("all", "mmlu"):
        from tradeoff.suites.mmlu.categories import SUBJECTS
        from tradeoff.suites.mmlu.jobs import mmlu_jobs, mmlu_scorer

        questions = [
            (q, f)
            for subject in SUBJECTS
            if options.mmlu_subject_selected(subject)
            for f in options.mmlu_formulations
            for q in options.mmlu_questions(subject)
        ]
        jobs, prefixes = mmlu_jobs(options.mmlu_dir, questions, key, options.mmlu_shots)
        start = time.perf_counter()
        compute_once(
            cache, key, jobs, locks, 0, 1, mmlu_scorer(load, prefixes, options.batch_size, options.model_name), made_by
        )
        report["mmlu"] = {"cases": len(jobs), "seconds": time.perf_counter() - start}
    cache.close()
    report["model_loaded"] = bool(loaded)
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
