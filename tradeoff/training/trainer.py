"""LoRA fine-tuning of a base model on Spider train: the engine behind `python train.py`.

transformers' Trainer does the loop, so single-GPU, `accelerate launch` and `torchrun`
data-parallel runs are the same code; this module decides what differs per run (precision,
resume point) and publishes the result where evaluation's `--model NAME` looks for it.
Heavy imports (torch, transformers, peft) happen inside functions so that a bad command line
is rejected before they load.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tradeoff.config.experiments import SNAPSHOTS_DIR
from tradeoff.errors import UserError
from tradeoff.hardware import cpu
from tradeoff.inference.provenance import git_state, package_versions
from tradeoff.models.identity import base_identity, base_keys
from tradeoff.models.loading import base_location, load_tokenizer
from tradeoff.suites.spider.data import SpiderData
from tradeoff.tracking import check_trackers, offline_defaults
from tradeoff.training.config import TrainPlan, plan_run
from tradeoff.training.data import PadCollator, build_training_set, data_checksums
from tradeoff.training.loss import answer_only_trainer
from tradeoff.training.outputs import clear_stale_staging, publish, write_json_atomic

RESUME_KEY = "resume_key.json"
INCOMPLETE_MARK = "checkpoint-is-incomplete.txt"  # transformers' JIT checkpoint sentinel


def is_rank_zero() -> bool:
    """Before Trainer exists: torchrun and accelerate both export RANK."""
    return int(os.environ.get("RANK", "0")) == 0


def precision(base_dtype: str, cuda: bool, bf16_supported: bool) -> tuple[str, str]:
    """(mixed-precision mode, dtype to load the base weights in).

    bf16 where the GPU has it; else fp16 autocast with loss scaling (Trainer's GradScaler) while
    peft keeps the LoRA weights in fp32; fp32 on CPU, where half precision is slow or unsupported.
    A base declared float32 keeps fp32 weights and only autocasts.
    """
    if not cuda:
        return "fp32", "float32"
    mode = "bf16" if bf16_supported else "fp16"
    if base_dtype == "float32":
        return mode, "float32"
    return mode, "bfloat16" if mode == "bf16" else "float16"


def latest_checkpoint(folder: Path) -> Path | None:
    """The newest checkpoint-N that was fully written (Trainer writes trainer_state.json last)."""
    if not folder.is_dir():
        return None
    complete = []
    for path in folder.glob("checkpoint-*"):
        step = path.name.rpartition("-")[2]
        state = path / "trainer_state.json"
        if not step.isdigit() or not state.is_file() or (path / INCOMPLETE_MARK).exists():
            continue
        try:
            json.loads(state.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue
        complete.append((int(step), path))
    return max(complete)[1] if complete else None


def resume_key(plan: TrainPlan, identity: dict[str, Any], checksums: dict[str, str]) -> dict[str, Any]:
    """What a checkpoint must share with this run to be continued by it.

    max_steps is left out on purpose (a run may be extended), and so is gradient checkpointing
    (it changes memory, not the maths).
    """
    training = plan.describe()["training"]
    for loose in ("max_steps", "gradient_checkpointing", "snapshots"):
        training.pop(loose)
    return {
        "experiment": plan.experiment,
        "base": base_keys(identity),
        "training": training,
        "limit": plan.limit,
        "data": checksums,
    }


def choose_resume_point(plan: TrainPlan, key: dict[str, Any]) -> Path | None:
    """The checkpoint to continue from, or None; refuses one made by a different configuration."""
    folder = plan.checkpoints_dir
    if not plan.resume:
        if is_rank_zero():
            shutil.rmtree(folder, ignore_errors=True)  # stale checkpoints would hijack a later auto-resume
        return None
    checkpoint = latest_checkpoint(folder)
    if checkpoint is None:
        return None
    try:
        stored = json.loads((folder / RESUME_KEY).read_text())
    except (OSError, json.JSONDecodeError):
        stored = None
    if stored != key:
        what = (
            f"{', '.join(sorted(k for k in key if stored.get(k) != key[k]))} differ"
            if isinstance(stored, dict)
            else f"no readable {RESUME_KEY} says which"
        )
        raise UserError(
            f"checkpoint {checkpoint} was made by a different run configuration ({what}); "
            "pass --no-resume to start over"
        )
    return checkpoint


def _versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        **package_versions(("torch", "transformers", "peft", "accelerate", "tokenizers")),
    }


def train(
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
    callbacks: Sequence[Any] = (),
    if_missing: bool = False,
    report_to: Sequence[str] = (),
) -> Path:
    """Train `experiment`'s LoRA adapter and return the adapter directory.

    resume=True continues from the newest complete checkpoint of the same configuration, if
    there is one; False deletes old checkpoints and starts over. `callbacks` are extra
    transformers TrainerCallbacks (tests use one to simulate an interruption). if_missing=True
    returns an existing adapter without training when it was trained with this very
    configuration (a smoke run's adapter does not satisfy a full run).
    """
    started = time.time()
    trackers = check_trackers(report_to)  # a misspelt tracker fails before anything, --if-missing too
    plan = plan_run(
        experiment,
        base_model=base_model,
        spider_dir=spider_dir,
        limit=limit,
        max_steps=max_steps,
        output_root=output_root,
        experiments_file=experiments_file,
        resume=resume,
        gradient_checkpointing=gradient_checkpointing,
        save_steps=save_steps,
    )
    if if_missing:
        stale = adapter_staleness(plan)
        if stale is None:
            if is_rank_zero():
                print(f"adapter up to date, not retraining: {plan.adapter_dir}", flush=True)
            return plan.adapter_dir
        if is_rank_zero():
            print(f"training {plan.experiment}: {stale}", flush=True)
    return _run(plan, started, callbacks, trackers)


_SAME_MATH = {"gradient_checkpointing"}  # recomputes activations; the trained weights are the same


def adapter_staleness(plan: TrainPlan) -> str | None:
    """Why the adapter at plan.adapter_dir does not answer this plan, or None when it does.

    Compared: the resolved configuration that run.json recorded (experiment, base model,
    every training value, limit), not the mere presence of files.
    """
    if not (plan.adapter_dir / "adapter_config.json").is_file():
        return f"no adapter at {plan.adapter_dir}"
    try:
        recorded = json.loads((plan.run_dir / "run.json").read_text())["config"]
    except (OSError, ValueError, KeyError, TypeError):
        return f"no readable run.json beside {plan.adapter_dir}"
    wanted = plan.describe()
    for key in ("experiment", "base_model", "training", "limit"):
        if recorded.get(key) != wanted.get(key):
            if key == "training" and isinstance(recorded.get(key), dict):
                changed = sorted(
                    k
                    for k in wanted[key]
                    if recorded[key].get(k, 0 if k == "snapshots" else None) != wanted[key][k] and k not in _SAME_MATH
                )
                if not changed:
                    continue
                return f"existing adapter was trained with other settings ({', '.join(changed)})"
            return f"existing adapter was trained with another {key}"
    return None


TRACKING_DIR = "tracking"  # beside the adapter: <run>/tracking/ (TensorBoard event files, offline runs)


def _run(plan: TrainPlan, started: float, extra_callbacks: Sequence[Any], trackers: Sequence[str] = ()) -> Path:
    import torch
    from transformers import AutoModelForCausalLM, Trainer, TrainingArguments, set_seed

    cfg = plan.training
    data = SpiderData(plan.spider_dir)
    identity = base_identity(plan.base)
    location = base_location(plan.base, identity)
    try:
        tokenizer = load_tokenizer(location, identity.get("revision"))
    except OSError as exc:
        raise UserError(f"cannot load tokenizer of {plan.base.source!r}: {str(exc).splitlines()[0]}") from None

    check_target_modules(location, plan)
    checksums = data_checksums(data, cfg.train_files)
    dataset = build_training_set(data, tokenizer, cfg.train_files, cfg.max_seq_length, cfg.seed, plan.limit)
    if not dataset.features:
        raise UserError(
            f"no usable training examples: all {dataset.stats['selected']} selected ones are longer than "
            f"max_seq_length = {cfg.max_seq_length} tokens or have no answer tokens"
        )
    key = resume_key(plan, identity, checksums)
    checkpoint = choose_resume_point(plan, key)
    if checkpoint is None and is_rank_zero():  # a fresh run: another run's snapshots must not pass for its own
        shutil.rmtree(plan.run_dir / SNAPSHOTS_DIR, ignore_errors=True)

    cuda = torch.cuda.is_available()
    mode, weights_dtype = precision(plan.base.dtype, cuda, cuda and torch.cuda.is_bf16_supported())
    set_seed(cfg.seed)  # LoRA's A matrices are initialised randomly
    model = _lora_model(AutoModelForCausalLM, location, weights_dtype, plan)
    trainable, total = model.get_nb_trainable_parameters()

    if is_rank_zero():
        clear_stale_staging(plan.run_dir)
        plan.checkpoints_dir.mkdir(parents=True, exist_ok=True)
        write_json_atomic(plan.checkpoints_dir / RESUME_KEY, key)
        s = dataset.stats
        print(
            f"training {plan.experiment!r} on {plan.base.name}: {s['used']} examples "
            f"({s['dropped_longer_than_max_seq_length']} dropped as longer than {cfg.max_seq_length} tokens), "
            f"trainable params {trainable:,} / {total:,} ({100 * trainable / total:.4f}%), {mode} on "
            f"{'cuda' if cuda else 'cpu'}" + (f", resuming from {checkpoint.name}" if checkpoint else ""),
            flush=True,
        )

    throughput = _throughput_callback()
    in_main_thread = threading.current_thread() is threading.main_thread()
    sigterm_handler = signal.getsignal(signal.SIGTERM) if in_main_thread else None
    offline_defaults(trackers, plan.run_dir / TRACKING_DIR)
    args = TrainingArguments(
        output_dir=str(plan.checkpoints_dir),
        per_device_train_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps,
        learning_rate=cfg.learning_rate,
        warmup_steps=cfg.warmup_ratio,  # a value below 1 is a fraction of the total steps
        weight_decay=0.0,
        logging_steps=0.01,  # ~100 points on the loss curve, every step for short runs
        logging_first_step=True,
        save_strategy="steps",
        save_steps=int(plan.save_steps) if plan.save_steps >= 1 else plan.save_steps,
        save_total_limit=2,
        enable_jit_checkpoint=in_main_thread,  # SIGTERM (preemption) -> checkpoint, then stop
        seed=cfg.seed,
        data_seed=cfg.seed,
        bf16=mode == "bf16",
        fp16=mode == "fp16",
        gradient_checkpointing=cfg.gradient_checkpointing,
        gradient_checkpointing_kwargs={"use_reentrant": False} if cfg.gradient_checkpointing else None,
        train_sampling_strategy="group_by_length",
        include_num_input_tokens_seen="non_padding",
        remove_unused_columns=False,
        label_names=["labels"],
        ddp_find_unused_parameters=False,
        dataloader_pin_memory=cuda,
        use_cpu=not cuda,  # also what makes `torchrun` on a CPU-only host data-parallel (gloo)
        report_to=list(trackers) or "none",
    )
    # the LM head only at labelled positions, and on CPU one unpadded row at a time: the same
    # loss, far less time and memory (training/loss.py)
    trainer = answer_only_trainer(Trainer, row_by_row=not cuda)(
        model=model,
        args=args,
        train_dataset=dataset.features,
        data_collator=PadCollator(tokenizer.pad_token_id, multiple_of=8 if cuda else 1),
        callbacks=[throughput, *([_SnapshotCallback(plan, identity)] if cfg.snapshots else []), *extra_callbacks],
    )
    try:
        trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    finally:  # Trainer restores it only when training ends normally
        if in_main_thread:
            signal.signal(signal.SIGTERM, sigterm_handler)
    state = trainer.state
    if state.global_step < state.max_steps:
        raise UserError(
            f"training stopped at step {state.global_step} of {state.max_steps}; the last checkpoint is under "
            f"{plan.checkpoints_dir}: rerun the same command to resume"
        )
    if not trainer.is_world_process_zero():
        return plan.adapter_dir

    return publish(
        plan=plan,
        model=model,
        identity=identity,
        log_history=state.log_history,
        record={
            "parameters": {
                "trainable": trainable,
                "total": total,
                "trainable_percent": round(100 * trainable / total, 6),
            },
            "data": {"checksums": checksums, **dataset.stats},
            "training": {
                "precision": mode,
                "loss": "next-token cross-entropy on the answer tokens, LM head at those positions only",
                "forward": "one unpadded row at a time" if not cuda else "whole padded batch",
                "base_weights_dtype": weights_dtype,
                "device": torch.cuda.get_device_name(0) if cuda else "cpu",
                "hardware": cpu(),  # tokens/s means little without the CPU it was measured on
                "world_size": args.world_size,
                "effective_batch_size": cfg.batch_size * cfg.gradient_accumulation_steps * args.world_size,
                "global_step": state.global_step,
                "max_steps": state.max_steps,
                "epoch": state.epoch,
                "resumed_from": str(checkpoint) if checkpoint else None,
                **throughput.summary(),
            },
            "seed": cfg.seed,
            "versions": _versions(),
            "git_commit": git_state()["commit"],
            "wall_time_s": round(time.time() - started, 2),
        },
    )


def snapshot_steps(max_steps: int, snapshots: int) -> list[int]:
    """The steps at every 1/N of the run, before the last (the last is the adapter itself)."""
    return sorted({max(1, round(k * max_steps / snapshots)) for k in range(1, snapshots)} - {max_steps})


def _SnapshotCallback(plan: TrainPlan, identity: dict[str, Any]) -> Any:  # noqa: N802 - a class factory
    """Keeps the adapter at the snapshot steps, each written whole or not at all (staged, renamed)."""
    from transformers import TrainerCallback

    from tradeoff.config.experiments import snapshot_dir
    from tradeoff.training.outputs import publish_adapter, stage_adapter

    base = base_keys(identity)

    class SnapshotCallback(TrainerCallback):  # type: ignore[misc]
        def on_step_end(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
            if not state.is_world_process_zero or model is None:
                return
            if state.global_step not in snapshot_steps(state.max_steps, plan.training.snapshots):
                return
            meta = {
                **base,  # what check_adapter_base compares
                "base_model": plan.base.name,
                "experiment": plan.experiment,
                "global_step": state.global_step,
                "max_steps": state.max_steps,
                "fraction": round(state.global_step / state.max_steps, 4),
                "snapshot": True,
            }
            staging, _ = stage_adapter(model, plan.run_dir, meta)
            target = snapshot_dir(plan.run_dir, state.global_step)
            target.parent.mkdir(parents=True, exist_ok=True)
            publish_adapter(staging, target)

    return SnapshotCallback()


def check_target_modules(location: str, plan: TrainPlan) -> None:
    """Fail before loading weights (minutes for a 7B model) if a LoRA target is not in the model.

    The architecture is instantiated on the meta device: module names, no memory. Matching is
    peft's: a target names a module exactly or as its last dotted components.
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    try:
        config = AutoConfig.from_pretrained(location)
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot load model config of {plan.base.source!r}: {str(exc).splitlines()[0]}") from None
    with torch.device("meta"):
        skeleton = AutoModelForCausalLM.from_config(config)
    names = [name for name, _ in skeleton.named_modules()]
    missing = [t for t in plan.training.target_modules if not any(n == t or n.endswith("." + t) for n in names)]
    if missing:
        leaves = sorted({n.rpartition(".")[2] for n in names if n and not n.rpartition(".")[2].isdigit()})
        raise UserError(
            f"{plan.experiments_file}: experiments.{plan.experiment}.target_modules {missing} are not modules "
            f"of {plan.base.name} ({config.model_type}); its modules include {leaves}"
        )


def lora_config(training: Any) -> Any:
    """peft's LoraConfig for a TrainingConfig: adapters on target_modules only, no bias terms."""
    from peft import LoraConfig, TaskType

    return LoraConfig(
        task_type=TaskType.CAUSAL_LM,
        r=training.lora_r,
        lora_alpha=training.lora_alpha,
        lora_dropout=training.lora_dropout,
        target_modules=list(training.target_modules),
        bias="none",
    )


def _lora_model(auto_cls: Any, location: str, weights_dtype: str, plan: TrainPlan) -> Any:
    import torch
    from peft import get_peft_model

    try:
        model = auto_cls.from_pretrained(location, dtype=getattr(torch, weights_dtype))
    except OSError as exc:
        raise UserError(f"cannot load model {plan.base.source!r}: {str(exc).splitlines()[0]}") from None
    model.config.use_cache = False  # a KV cache is useless in training and conflicts with checkpointing
    _drop_dequantized_gguf_marker(model)
    try:
        return get_peft_model(model, lora_config(plan.training))
    except ValueError as exc:  # check_target_modules should have caught this already
        raise UserError(
            f"{plan.experiments_file}: experiments.{plan.experiment}.target_modules "
            f"{list(plan.training.target_modules)} do not fit {plan.base.name}: {str(exc).splitlines()[0]}"
        ) from None


def _drop_dequantized_gguf_marker(model: Any) -> None:
    """A checkpoint converted from GGUF holds plain float weights but keeps a `gguf` quantization
    config, and Trainer refuses to train "GGUF-quantized" models. Forget the stale marker, but
    only when every weight really is floating point."""
    quantizer = getattr(model, "hf_quantizer", None)
    method = str(getattr(getattr(quantizer, "quantization_config", None), "quant_method", ""))
    if quantizer is None or "gguf" not in method.lower():
        return
    if not all(p.dtype.is_floating_point for p in model.parameters()):
        return
    from tradeoff.models.gguf import drop_gguf_quantization

    drop_gguf_quantization(model)


def _throughput_callback() -> Any:
    """Tokens per second over this process's steps only (a resumed run's earlier steps excluded).

    Built on first use so that importing this module does not import transformers.
    """
    from transformers import TrainerCallback

    class Throughput(TrainerCallback):
        def __init__(self) -> None:
            self.start: tuple[float, int, int] | None = None
            self.end: tuple[float, int, int] | None = None

        def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            # not on_train_begin: Trainer restores a checkpoint's state after that event
            if self.start is None:
                self.start = (time.perf_counter(), int(state.num_input_tokens_seen or 0), state.global_step)

        def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.end = (time.perf_counter(), int(state.num_input_tokens_seen or 0), state.global_step)

        def summary(self) -> dict[str, Any]:
            if not self.start or not self.end:
                return {"steps_this_run": 0, "tokens_this_run": 0, "train_seconds_this_run": 0.0, "tokens_per_s": None}
            seconds = self.end[0] - self.start[0]
            tokens = self.end[1] - self.start[1]
            return {
                "steps_this_run": self.end[2] - self.start[2],
                "tokens_this_run": tokens,  # non-padding input tokens, summed over all processes
                "train_seconds_this_run": round(seconds, 2),
                "tokens_per_s": round(tokens / seconds, 1) if tokens and seconds > 0 else None,
            }

    return Throughput()
