"""Turn `train.py` options plus experiments.toml into one validated plan, before anything heavy loads.

Every mistake a user can make (unknown or untrainable experiment, out-of-range value, missing
data) is found here and raised as a UserError, so a bad command fails in a fraction of a second
instead of after the model has loaded.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from tradeoff.config import settings
from tradeoff.config.experiments import BaseModelSpec, TrainingConfig, adapter_dir, load_registry
from tradeoff.errors import UserError


@dataclass(frozen=True)
class TrainPlan:
    """Everything one training run needs to know, resolved."""

    experiment: str
    base: BaseModelSpec
    training: TrainingConfig  # with command-line overrides applied
    spider_dir: Path
    run_dir: Path  # models/<base>/<experiment>
    experiments_file: Path
    limit: int | None
    resume: bool
    save_steps: float  # an int >= 1, or a fraction of the total steps

    @property
    def adapter_dir(self) -> Path:
        return self.run_dir / "adapter"

    @property
    def checkpoints_dir(self) -> Path:
        return self.run_dir / "checkpoints"

    def describe(self) -> dict[str, Any]:
        """The resolved configuration, as run.json records it."""
        training = asdict(self.training)
        training["target_modules"] = list(training["target_modules"])
        training["train_files"] = list(training["train_files"])
        return {
            "experiment": self.experiment,
            "base_model": {"name": self.base.name, "source": self.base.source, "dtype": self.base.dtype},
            "training": training,
            "spider_dir": str(self.spider_dir),
            "experiments_file": str(self.experiments_file),
            "limit": self.limit,
            "save_steps": self.save_steps,
        }


DEFAULT_SAVE_STEPS = 0.1  # a checkpoint every 10% of the run; fractions are Trainer's own convention


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise UserError(message)


def validate_training(cfg: TrainingConfig, where: str) -> None:
    """Ranges the registry's type checks cannot know (it only rejects negatives)."""
    _check(cfg.learning_rate > 0, f"{where}.learning_rate must be > 0, got {cfg.learning_rate}")
    _check(cfg.lora_r >= 1, f"{where}.lora_r must be >= 1, got {cfg.lora_r}")
    _check(cfg.lora_alpha >= 1, f"{where}.lora_alpha must be >= 1, got {cfg.lora_alpha}")
    _check(0 <= cfg.lora_dropout < 1, f"{where}.lora_dropout must be in [0, 1), got {cfg.lora_dropout}")
    _check(len(cfg.target_modules) > 0, f"{where}.target_modules must name at least one module")
    _check(cfg.batch_size >= 1, f"{where}.batch_size must be >= 1, got {cfg.batch_size}")
    _check(cfg.gradient_accumulation_steps >= 1, f"{where}.gradient_accumulation_steps must be >= 1")
    _check(cfg.epochs > 0, f"{where}.epochs must be > 0, got {cfg.epochs}")
    _check(cfg.max_seq_length >= 16, f"{where}.max_seq_length must be >= 16, got {cfg.max_seq_length}")
    _check(0 <= cfg.warmup_ratio < 1, f"{where}.warmup_ratio must be in [0, 1), got {cfg.warmup_ratio}")
    _check(cfg.max_steps == -1 or cfg.max_steps >= 1, f"{where}.max_steps must be -1 (off) or >= 1")
    _check(len(cfg.train_files) > 0, f"{where}.train_files must name at least one Spider train file")
    for name in cfg.train_files:
        _check(
            Path(name).name == name and name.endswith(".json"),
            f"{where}.train_files: {name!r} must be a .json file name inside the Spider directory",
        )


def _positive(name: str, value: int | None) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise UserError(f"{name} must be an integer >= 1, got {value!r}")


def plan_run(
    experiment: str,
    *,
    base_model: str | None = None,
    spider_dir: str | Path | None = None,
    limit: int | None = None,
    max_steps: int | None = None,
    output_root: str | Path | None = None,
    experiments_file: str | Path | None = None,
    resume: bool = True,
    gradient_checkpointing: bool | None = None,
    save_steps: int | None = None,
) -> TrainPlan:
    """Resolve and validate a run; raises UserError with a one-line explanation."""
    _positive("--limit", limit)
    _positive("--max-steps", max_steps)
    _positive("--save-steps", save_steps)
    registry = load_registry(Path(experiments_file) if experiments_file else None)
    if experiment not in registry.experiments:
        raise UserError(
            f"unknown experiment {experiment!r}: trainable ones in {registry.path} are "
            f"{sorted(n for n, e in registry.experiments.items() if e.train)}"
        )
    exp = registry.experiments[experiment]
    if not exp.train or exp.training is None:
        raise UserError(
            f"experiment {experiment!r} is declared with train = false in {registry.path}: "
            "it evaluates the base model and has nothing to train"
        )
    where = f"{registry.path}: experiments.{experiment}"
    validate_training(exp.training, where)
    training = exp.training
    if max_steps is not None:
        training = replace(training, max_steps=max_steps)
    if gradient_checkpointing is not None:
        training = replace(training, gradient_checkpointing=gradient_checkpointing)

    base = registry.base(base_model or os.environ.get(settings.ENV_BASE_MODEL) or None)
    default_adapter = adapter_dir(base, experiment)  # the path evaluation's `--model NAME` reads
    run_dir = default_adapter.parent
    if output_root is not None:
        run_dir = Path(output_root).expanduser() / default_adapter.parent.relative_to(settings.models_dir())

    root = Path(spider_dir).expanduser() if spider_dir else settings.default_spider_dir()
    _check_spider_dir(root, training.train_files)
    return TrainPlan(
        experiment=experiment,
        base=base,
        training=training,
        spider_dir=root,
        run_dir=run_dir,
        experiments_file=registry.path,
        limit=limit,
        resume=resume,
        save_steps=float(save_steps) if save_steps else DEFAULT_SAVE_STEPS,
    )


def _check_spider_dir(root: Path, files: tuple[str, ...]) -> None:
    from tradeoff.suites.spider.data import SpiderData

    SpiderData(root)  # the directory and its dev.json/tables.json
    missing = [name for name in files if not (root / name).is_file()]
    if missing:
        raise UserError(f"Spider data directory {root} lacks the train file(s) {', '.join(missing)}")
