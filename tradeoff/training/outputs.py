"""What a finished training run leaves behind: the adapter, run.json, and the loss curve.

The adapter is what evaluation loads, so it is published atomically: written to a staging
directory beside it, then renamed into place. A run killed at any moment leaves either the
previous adapter or the new one, never a half-written one that `--model NAME` would load.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from tradeoff.files import write_json_atomic
from tradeoff.models.identity import ADAPTER_META, base_keys, directory_hash

STAGING_PREFIX = ".adapter.tmp-"


def clear_stale_staging(run_dir: Path) -> None:
    """Staging directories of runs that died mid-publish are garbage; evaluation never reads them."""
    if run_dir.is_dir():
        for stale in run_dir.glob(f"{STAGING_PREFIX}*"):
            shutil.rmtree(stale, ignore_errors=True)


def stage_adapter(model: Any, run_dir: Path, meta: dict[str, Any]) -> tuple[Path, str]:
    """Save the adapter and its metadata to a staging dir; return it and its content hash
    (the same hash evaluation's `adapter_identity` computes, so run.json links to its cache keys)."""
    staging = run_dir / f"{STAGING_PREFIX}{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.parent.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(staging))
    (staging / ADAPTER_META).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return staging, directory_hash(staging, skip=(ADAPTER_META,))


def publish_adapter(staging: Path, target: Path) -> None:
    """Rename the staged adapter into place, moving any previous one aside first.

    A directory cannot be renamed over a non-empty one, so there is a moment with no adapter at
    all; a reader then gets "not trained yet", which is honest, rather than mixed files.
    """
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        shutil.rmtree(old, ignore_errors=True)
        target.rename(old)
    staging.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def loss_points(log_history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The logged training loss per step (Trainer's per-interval mean), without the summary entry."""
    keep = ("step", "epoch", "loss", "learning_rate", "grad_norm")
    return [{k: entry[k] for k in keep if k in entry} for entry in log_history if "loss" in entry and "step" in entry]


def write_loss_curve(run_dir: Path, points: list[dict[str, Any]], title: str) -> None:
    """loss.json (the numbers) and loss.png (a glance); matplotlib's Agg needs no display."""
    write_json_atomic(run_dir / "loss.json", points)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    if points:
        ax.plot([p["step"] for p in points], [p["loss"] for p in points], marker="." if len(points) < 50 else None)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("training loss (assistant tokens)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    tmp = run_dir / f".loss.png.tmp-{os.getpid()}.png"
    fig.savefig(tmp)
    plt.close(fig)
    os.replace(tmp, run_dir / "loss.png")


def publish(
    *,
    plan: Any,
    model: Any,
    identity: dict[str, Any],
    log_history: list[dict[str, Any]],
    record: dict[str, Any],
) -> Path:
    """Write loss curve, run.json and the adapter (last, atomically); return the adapter dir.

    The adapter goes last so that its presence means the whole run, record included, finished.
    """
    from datetime import datetime, timezone

    run_dir: Path = plan.run_dir
    finished = datetime.now(timezone.utc).isoformat(timespec="seconds")
    points = loss_points(log_history)
    write_loss_curve(run_dir, points, f"{plan.experiment} on {plan.base.name}")
    base = base_keys(identity)
    meta = {
        **base,  # what tradeoff.models.loading.check_adapter_base compares
        "base_model": plan.base.name,
        "experiment": plan.experiment,
        "global_step": record["training"]["global_step"],
        "finished_at": finished,
        "run_record": "../run.json",
    }
    staging, adapter_sha256 = stage_adapter(model, run_dir, meta)
    full_record = {
        "experiment": plan.experiment,
        "adapter": str(plan.adapter_dir),
        "adapter_sha256": adapter_sha256,
        "base_identity": base,
        "config": plan.describe(),
        **record,
        "loss": {
            "first": points[0]["loss"] if points else None,
            "last": points[-1]["loss"] if points else None,
            "points": len(points),
            "curve": "loss.json",
            "plot": "loss.png",
        },
        "finished_at": finished,
    }
    write_json_atomic(run_dir / "run.json", full_record)
    publish_adapter(staging, plan.adapter_dir)
    return plan.adapter_dir
