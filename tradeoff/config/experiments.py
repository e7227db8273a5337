"""The declared registry (experiments.toml): base models, experiments, evaluation settings.

`--model NAME` and `train.py --experiment NAME` both resolve through here, so what a
name means is written once, in the file, not in code.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import tomllib

from tradeoff.config import settings
from tradeoff.errors import UserError

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass(frozen=True)
class BaseModelSpec:
    name: str
    source: str  # hub id, local path, or "pypi-gguf:<package>/<file.gguf>"
    dtype: str = "float32"
    anchors: tuple[Anchor, ...] = ()  # published figures a run of this model should be near


ANCHOR_METRICS = ("mmlu-letter", "mmlu-cloze", "spider-ex")


@dataclass(frozen=True)
class Anchor:
    """A published figure for a base model (percent), shown beside the measured one in reports,
    so a user sees at once whether a run is sane."""

    metric: str  # one of ANCHOR_METRICS
    value: float
    source: str


@dataclass(frozen=True)
class TrainingConfig:
    learning_rate: float = 2e-4
    lora_r: int = 4
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    target_modules: tuple[str, ...] = ("q_proj", "v_proj")
    batch_size: int = 4
    epochs: float = 1.0
    max_seq_length: int = 1024
    warmup_ratio: float = 0.03
    seed: int = 42
    train_files: tuple[str, ...] = ("train_spider.json",)
    gradient_accumulation_steps: int = 1
    gradient_checkpointing: bool = False
    max_steps: int = -1
    # N > 0: also keep the adapter at every 1/N of the run (adapter weights only, small), each
    # evaluable as `--model NAME@step=S`; the last one is the adapter itself
    snapshots: int = 0


@dataclass(frozen=True)
class Experiment:
    name: str
    train: bool
    spider_shots: int
    training: TrainingConfig | None


@dataclass(frozen=True)
class EvaluationConfig:
    spider_max_new_tokens: int = 256
    spider_batch_size: int = 32
    batch_size: int = 8
    query_timeout_s: float = 5.0
    max_rows: int = 100_000


@dataclass(frozen=True)
class Registry:
    path: Path
    default_base: str
    base_models: dict[str, BaseModelSpec]
    experiments: dict[str, Experiment]
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)

    def base(self, name: str | None = None) -> BaseModelSpec:
        key = name or self.default_base
        if key in self.base_models:
            return self.base_models[key]
        if _HUB_ID.match(key) or Path(key).expanduser().exists():
            return BaseModelSpec(name=slug(key), source=key)
        raise UserError(
            f"unknown base model {key!r}: use one of {sorted(self.base_models)} "
            f"from {self.path}, a hub id or a local path"
        )


@dataclass(frozen=True)
class ModelChoice:
    """What `--model NAME` means: a base model, optionally with a LoRA adapter."""

    label: str
    base: BaseModelSpec
    adapter_path: Path | None
    spider_shots: int
    experiment: str | None = None
    # λ of partial adaptation (WiSE-FT style): the LoRA contribution times λ; 0 = base, 1 = trained
    adapter_scale: float = 1.0
    # a file of predictions made elsewhere, scored as this "model" (tradeoff/models/predictions.py)
    predictions: Path | None = None


def slug(text: str) -> str:
    """A file-name-safe form of a name (results files, adapter folders)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "model"


def _typed(cls: type, raw: dict[str, Any], where: str) -> Any:
    """Build a dataclass from a TOML table, rejecting unknown keys and wrong types."""
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise UserError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(known)}")
    values: dict[str, Any] = {}
    defaults = cls()
    for key, value in raw.items():
        expected = type(getattr(defaults, key))
        if expected is tuple:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise UserError(f"{where}.{key}: expected a list of strings, got {value!r}")
            value = tuple(value)
        elif expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        elif not isinstance(value, expected) or isinstance(value, bool) != (expected is bool):
            raise UserError(f"{where}.{key}: expected {expected.__name__}, got {value!r}")
        values[key] = value
    built = cls(**values)
    for f in fields(cls):
        value = getattr(built, f.name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if value < 0 and f.name != "max_steps":
                raise UserError(f"{where}.{f.name}: must be >= 0, got {value}")
    return built


def _anchor(raw: Any, where: str) -> Anchor:
    if not isinstance(raw, dict) or set(raw) != {"metric", "value", "source"}:
        raise UserError(f"{where}: each anchor is a table with exactly metric, value and source")
    if raw["metric"] not in ANCHOR_METRICS:
        raise UserError(f"{where}: metric {raw['metric']!r} is not one of {list(ANCHOR_METRICS)}")
    value = raw["value"]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100:
        raise UserError(f"{where}: value must be a percentage between 0 and 100, got {value!r}")
    if not isinstance(raw["source"], str) or not raw["source"].strip():
        raise UserError(f"{where}: source must say where the figure was published")
    return Anchor(raw["metric"], float(value), raw["source"])


def load_registry(path: Path | None = None) -> Registry:
    path = Path(path) if path else settings.experiments_file()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"experiments file not found: {path}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"experiments file {path}: invalid TOML: {exc}") from None
    unknown = sorted(set(raw) - {"defaults", "base_models", "evaluation", "experiments", "training"})
    if unknown:
        raise UserError(f"experiments file {path}: unknown section(s) {unknown}")

    bases: dict[str, BaseModelSpec] = {}
    for name, table in raw.get("base_models", {}).items():
        if not isinstance(table, dict) or not isinstance(table.get("source"), str):
            raise UserError(f"{path}: base_models.{name} needs a string 'source'")
        extra = sorted(set(table) - {"source", "dtype", "anchors"})
        if extra:
            raise UserError(f"{path}: base_models.{name}: unknown key(s) {extra}")
        dtype = table.get("dtype", "float32")
        if dtype not in ("float32", "bfloat16", "float16", "auto"):
            raise UserError(f"{path}: base_models.{name}.dtype: unsupported {dtype!r}")
        anchors = tuple(_anchor(a, f"{path}: base_models.{name}.anchors") for a in table.get("anchors", []))
        bases[name] = BaseModelSpec(name=name, source=table["source"], dtype=dtype, anchors=anchors)

    shared_training = raw.get("training", {})
    _typed(TrainingConfig, shared_training, f"{path}: training")
    experiments: dict[str, Experiment] = {}
    for name, table in raw.get("experiments", {}).items():
        if not isinstance(table, dict):
            raise UserError(f"{path}: experiments.{name} must be a table")
        table = dict(table)
        train = table.pop("train", True)
        shots = table.pop("spider_shots", 0)
        if not isinstance(train, bool):
            raise UserError(f"{path}: experiments.{name}.train: expected true/false")
        if not isinstance(shots, int) or isinstance(shots, bool) or shots < 0:
            raise UserError(f"{path}: experiments.{name}.spider_shots: expected an integer >= 0")
        training = (
            _typed(TrainingConfig, {**shared_training, **table}, f"{path}: experiments.{name}") if train else None
        )
        if not train and table:
            raise UserError(f"{path}: experiments.{name} is not trained but sets {sorted(table)}")
        experiments[name] = Experiment(name=name, train=train, spider_shots=shots, training=training)

    default_base = raw.get("defaults", {}).get("base_model")
    if default_base not in bases:
        raise UserError(f"{path}: defaults.base_model must name one of {sorted(bases)}")
    evaluation = _typed(EvaluationConfig, raw.get("evaluation", {}), f"{path}: evaluation")
    return Registry(path, default_base, bases, experiments, evaluation)


def adapter_dir(base: BaseModelSpec, experiment: str) -> Path:
    """Where train.py writes, and `--model` reads, an experiment's adapter."""
    return settings.models_dir() / slug(base.name) / experiment / "adapter"


def shipped_adapter_dir(base: BaseModelSpec, experiment: str) -> Path:
    """The experiment's adapter as committed with the repository (adapters/<base>/<experiment>/)."""
    return settings.shipped_adapters_dir() / slug(base.name) / experiment / "adapter"


def is_shipped(path: Path) -> bool:
    return settings.shipped_adapters_dir().resolve() in path.resolve().parents


MODIFIERS = ("scale", "step")  # NAME@scale=λ, NAME@step=S (a snapshot kept by train.py)


def parse_modifiers(name: str) -> tuple[str, dict[str, float]]:
    """`v1@scale=0.5` -> ("v1", {"scale": 0.5}); a name without `@key=value` parts is returned as is."""
    stem, sep, rest = name.rpartition("@")
    if not sep or "=" not in rest:
        return name, {}
    found: dict[str, float] = {}
    for part in rest.split(","):
        key, _, raw = part.partition("=")
        if key not in MODIFIERS:
            raise UserError(f"--model {name}: unknown modifier {key!r} (known: {', '.join(MODIFIERS)})")
        try:
            value = float(raw)
        except ValueError:
            raise UserError(f"--model {name}: {key}={raw!r} is not a number") from None
        if not (math.isfinite(value) and value >= 0):
            raise UserError(f"--model {name}: {key} must be a finite number >= 0, got {raw}")
        found[key] = value
    return stem, found


def resolve_model(name: str, registry: Registry, base_name: str | None = None) -> ModelChoice:
    """What --model names; `NAME@scale=λ` scales an adapter's LoRA contribution by λ;
    `predictions:FILE` is a file of predictions made elsewhere."""
    if name.startswith(PREDICTIONS_PREFIX):
        path = Path(name[len(PREDICTIONS_PREFIX) :]).expanduser()
        if not path.is_file():
            raise UserError(f"--model {name}: no such predictions file {path}")
        return ModelChoice(name, registry.base(base_name), None, 0, predictions=path.resolve())
    stem, modifiers = parse_modifiers(name)
    choice = _resolve(stem, registry, base_name)
    if "step" in modifiers:
        choice = _snapshot(name, choice, modifiers["step"])
    if "scale" in modifiers:
        if choice.adapter_path is None:
            raise UserError(f"--model {name}: @scale applies to a LoRA adapter, and {stem!r} has none")
        choice = replace(choice, label=name, adapter_scale=modifiers["scale"])
    return choice


PREDICTIONS_PREFIX = "predictions:"  # --model predictions:FILE
SNAPSHOTS_DIR = "snapshots"  # beside an experiment's adapter: snapshots/step-00040/


def snapshot_dir(run_dir: Path, step: int) -> Path:
    return run_dir / SNAPSHOTS_DIR / f"step-{step:05d}"


def _snapshot(name: str, choice: ModelChoice, step: float) -> ModelChoice:
    """The adapter train.py kept at `step` of the experiment's run (snapshots = N)."""
    if choice.adapter_path is None or choice.experiment is None:
        raise UserError(f"--model {name}: @step names a snapshot of a trained experiment's run")
    if step != int(step) or step < 1:
        raise UserError(f"--model {name}: step must be a whole number >= 1")
    run_dir = choice.adapter_path.parent
    path = snapshot_dir(run_dir, int(step))
    if not (path / "adapter_config.json").is_file():
        kept = sorted(int(p.name.removeprefix("step-")) for p in (run_dir / SNAPSHOTS_DIR).glob("step-*"))
        raise UserError(
            f"--model {name}: no snapshot at step {int(step)} under {run_dir / SNAPSHOTS_DIR} "
            + (f"(kept: {', '.join(map(str, kept))})" if kept else "(train with `snapshots = N` to keep them)")
        )
    return replace(choice, label=name, adapter_path=path)


def _resolve(name: str, registry: Registry, base_name: str | None) -> ModelChoice:
    base = registry.base(base_name)
    base_shots = registry.experiments["base"].spider_shots if "base" in registry.experiments else 0
    if name in registry.experiments:
        exp = registry.experiments[name]
        if not exp.train:
            return ModelChoice(name, base, None, exp.spider_shots, name)
        path = adapter_dir(base, name)
        shipped = shipped_adapter_dir(base, name)
        if not (path / "adapter_config.json").is_file() and (shipped / "adapter_config.json").is_file():
            path = shipped  # a locally trained adapter always wins; the shipped one stands in
        if not (path / "adapter_config.json").is_file():
            raise UserError(
                f"model {name!r} is not trained yet for base {base.name!r} (no adapter at {path}): "
                f"run `python train.py --experiment {name}`"
            )
        return ModelChoice(name, base, path, exp.spider_shots, name)
    if name in registry.base_models:
        return ModelChoice(name, registry.base_models[name], None, base_shots)
    local = Path(name).expanduser()
    if local.exists():
        if (local / "adapter_config.json").is_file():
            return ModelChoice(name, base, local.resolve(), 0)
        if (local / "config.json").is_file() or local.suffix == ".gguf":
            return ModelChoice(name, BaseModelSpec(slug(local.name), str(local.resolve())), None, base_shots)
        raise UserError(f"--model {name}: {local} holds neither adapter_config.json nor config.json")
    if _HUB_ID.match(name):
        return ModelChoice(name, BaseModelSpec(slug(name), name, "auto"), None, base_shots)
    raise UserError(
        f"unknown --model {name!r}: use one of {sorted(registry.experiments)} "
        f"(from {registry.path}), a base model {sorted(registry.base_models)}, "
        "a path to a model or adapter, or a Hugging Face model id"
    )
