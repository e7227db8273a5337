#!/usr/bin/env python
"""Train an experiment's LoRA adapter: `python train.py --experiment v1`.

The adapter lands where `pytest --model v1` looks for it (models/<base>/<experiment>/adapter).
Works unchanged under `accelerate launch train.py ...` and `torchrun train.py ...`.
Every user error is one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from tradeoff.errors import UserError
from tradeoff.training.trainer import train

__all__ = ["main", "train"]


class _Parser(argparse.ArgumentParser):
    """argparse prints usage plus a message; a user error here is the message alone."""

    def error(self, message: str) -> NoReturn:
        raise UserError(f"train.py: {message} (see --help)")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--experiment", required=True, help="an experiment declared in experiments.toml (v1, v2, ...)")
    p.add_argument(
        "--base-model", default=None, help="base_models key; default: $TRADEOFF_BASE_MODEL or defaults.base_model"
    )
    p.add_argument("--spider-dir", default=None, help="Spider directory; default: $SPIDER_DIR or ../shared/data/spider")
    p.add_argument("--experiments-file", default=None, help="default: $TRADEOFF_EXPERIMENTS or ./experiments.toml")
    p.add_argument("--output-root", default=None, help="models root; default: $TRADEOFF_MODELS_DIR or ./models")
    p.add_argument("--limit", type=int, default=None, help="train on the first N examples after a seeded shuffle")
    p.add_argument("--max-steps", type=int, default=None, help="stop after N optimizer steps (overrides epochs)")
    p.add_argument(
        "--save-steps", type=int, default=None, help="checkpoint every N steps (default: every 10%% of the run)"
    )
    p.add_argument(
        "--resume",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="continue from the newest checkpoint if one exists; --no-resume deletes checkpoints and starts over",
    )
    p.add_argument(
        "--if-missing",
        action="store_true",
        help="do nothing if the adapter exists and was trained with this configuration (tox, make demo)",
    )
    p.add_argument(
        "--report-to",
        action="append",
        default=[],
        help="log the run to tensorboard, wandb or mlflow too (repeatable; offline, under <run>/tracking/)",
    )
    p.add_argument(
        "--gradient-checkpointing",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="trade compute for activation memory (default: the experiment's gradient_checkpointing)",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        args = _parser().parse_args(argv)
        adapter = train(
            args.experiment,
            base_model=args.base_model,
            spider_dir=args.spider_dir,
            limit=args.limit,
            max_steps=args.max_steps,
            output_root=args.output_root,
            experiments_file=args.experiments_file,
            resume=args.resume,
            gradient_checkpointing=args.gradient_checkpointing,
            save_steps=args.save_steps,
            if_missing=args.if_missing,
            report_to=[n for value in args.report_to for n in value.split(",") if n],
        )
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: rerun the same command to resume from the last checkpoint", file=sys.stderr)
        return 130
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"adapter: {adapter}")
        print(f"run record: {adapter.parent / 'run.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
