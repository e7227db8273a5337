"""`tradeoff check-results FILE --model NAME`: is a committed results JSON still what `--model NAME`
would compute today?

A committed study is only worth its numbers while they describe the shipped models and the
current code. A results file names what made it (the base weights' and the adapter's content
hashes, the prompt's shots, and for every process that computed a case its code version and
keyed package versions); this compares each with what a run would use now and says what
changed. `make study-cpu` reruns a model whose file is stale instead of keeping it by name.
Exit status: 0 current, 1 stale or missing, 2 unreadable input.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from tradeoff.config.experiments import ModelChoice, load_registry, resolve_model
from tradeoff.errors import UserError
from tradeoff.files import read_results_json
from tradeoff.inference.provenance import CODE_VERSION, package_versions
from tradeoff.models.identity import identity_key, model_identity


def read_results(path: Path) -> dict[str, Any]:
    data = read_results_json(path, str(path))
    if not isinstance(data.get("identity"), dict):
        raise UserError(f"{path}: not a results JSON (no 'identity' object)")
    return data


def _short(value: Any) -> str:
    return str(value)[:12] if value else "none"


def stale_reasons(results: dict[str, Any], choice: ModelChoice) -> list[str]:
    """What differs between the run that wrote `results` and a run of `choice` now ([] = current)."""
    reasons: list[str] = []
    then, now = results["identity"], model_identity(choice)
    if identity_key(then) != identity_key(now):
        for key, what in (("adapter_sha256", "adapter"), ("base_sha256", "base weights")):
            if then.get(key) != now.get(key):
                reasons.append(f"{what} changed ({_short(then.get(key))} -> {_short(now.get(key))})")
        if not reasons:
            reasons.append("model identity changed")
    shots = (results.get("settings") or {}).get("spider_shots")
    if shots is not None and shots != choice.spider_shots:
        reasons.append(f"Spider prompt had {shots} shots, the model now has {choice.spider_shots}")
    processes = [g.get("process") or {} for g in results.get("generated_by") or []]
    codes = sorted({p["code"] for p in processes if "code" in p})
    if not processes or not codes:
        reasons.append("no record of the code that computed it")
    elif codes != [CODE_VERSION]:
        reasons.append(f"computed by code version {'+'.join(map(str, codes))}, the code is now {CODE_VERSION}")
    dtypes = sorted({str(p["dtype"]) for p in processes if "dtype" in p})
    if dtypes and choice.base.dtype != "auto" and dtypes != [choice.base.dtype]:
        reasons.append(f"computed in {'+'.join(dtypes)}, the model is now run in {choice.base.dtype}")
    installed = package_versions()
    for name in sorted({n for p in processes for n in p.get("versions") or {}}):
        used = sorted({p["versions"][name] for p in processes if name in (p.get("versions") or {})})
        if used != [installed.get(name)]:
            reasons.append(f"{name} {'+'.join(used)} computed it, {installed.get(name, 'none')} is installed")
    return reasons


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tradeoff check-results", description=__doc__.split("\n\n")[0])
    parser.add_argument("results", type=Path, help="a results JSON (results/<model>.json)")
    parser.add_argument("--model", required=True, help="what --model the file should describe (v1, base-0shot, ...)")
    parser.add_argument("--base-model", default=None, help="base_models key; default as for pytest")
    args = parser.parse_args(argv)
    if not args.results.exists():
        print(f"{args.model}: missing ({args.results})")
        return 1
    results = read_results(args.results)
    if results.get("model") != args.model:
        raise UserError(f"{args.results}: holds model {results.get('model')!r}, not {args.model!r}")
    reasons = stale_reasons(results, resolve_model(args.model, load_registry(), args.base_model))
    print(f"{args.model}: " + (f"stale: {'; '.join(reasons)}" if reasons else f"current ({args.results})"))
    return 1 if reasons else 0
