"""Commit trained adapters with the repository: `tradeoff ship-adapters --experiments v1,v2`.

Copies each experiment's adapter (weights, config, train.py's metadata) with its run.json, loss
curve and snapshots (the adapter kept at every 10% of the run: the points of the trade-off
curves, `--model v1@step=S`; no optimizer checkpoints) from the models folder to
adapters/<base>/<experiment>/, after checking that the adapter's content hash is the one its
run.json recorded. `--model v1` uses a shipped adapter only when no locally trained one exists,
and says which it loaded.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from tradeoff.config import settings
from tradeoff.config.experiments import SNAPSHOTS_DIR, adapter_dir, load_registry, shipped_adapter_dir
from tradeoff.config.run_options import split_values
from tradeoff.errors import UserError
from tradeoff.models.identity import ADAPTER_META, directory_hash

BESIDE = ("run.json", "loss.json", "loss.png")  # the run's record, shipped with its adapter


def recorded_hash(run_dir: Path) -> str:
    try:
        return str(json.loads((run_dir / "run.json").read_text(encoding="utf-8"))["adapter_sha256"])
    except (OSError, ValueError, KeyError) as exc:
        raise UserError(f"{run_dir}: no readable run.json with the adapter's hash ({exc})") from None


def ship(experiment: str, base_name: str | None = None, snapshots: bool = True) -> Path:
    base = load_registry().base(base_name)
    source = adapter_dir(base, experiment)
    if not (source / "adapter_config.json").is_file():
        raise UserError(
            f"{experiment}: no trained adapter at {source} (run `python train.py --experiment {experiment}`)"
        )
    if directory_hash(source, skip=(ADAPTER_META,)) != recorded_hash(source.parent):
        raise UserError(f"{source}: its content differs from the hash its run.json recorded")
    target = shipped_adapter_dir(base, experiment)
    shutil.rmtree(target.parent, ignore_errors=True)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(SNAPSHOTS_DIR, "checkpoint-*"))
    for name in BESIDE:
        if (source.parent / name).is_file():
            shutil.copy2(source.parent / name, target.parent / name)
    kept = source.parent / SNAPSHOTS_DIR
    if snapshots and kept.is_dir():
        shutil.copytree(kept, target.parent / SNAPSHOTS_DIR, ignore=shutil.ignore_patterns(".*"))
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", required=True, help="comma-separated experiments (v1,v2)")
    parser.add_argument("--base-model", default=None)
    parser.add_argument(
        "--snapshots",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="ship the run's snapshots too (about 1 MB each for r = 4 on q_proj + v_proj)",
    )
    args = parser.parse_args(argv)
    for experiment in split_values([args.experiments]):
        target = ship(experiment, args.base_model, snapshots=args.snapshots)
        where = target.relative_to(settings.REPO_ROOT) if target.is_relative_to(settings.REPO_ROOT) else target
        print(f"{experiment}: shipped to {where}")
    return 0
