"""Which device this process uses. Chosen inside each xdist worker, never on the controller."""

from __future__ import annotations

import os


def worker_index() -> int:
    """A sweep worker's own number; else gw3 -> 3 in an xdist worker; else 0. The sweep's
    number comes first: a sweep started from an xdist worker passes that worker's id on."""
    from tradeoff.config.settings import ENV_SWEEP_WORKER

    name = os.environ.get(ENV_SWEEP_WORKER) or os.environ.get("PYTEST_XDIST_WORKER") or "0"
    digits = "".join(ch for ch in name if ch.isdigit())
    return int(digits) if digits else 0


def device_count() -> int:
    import torch  # here, not at import: a usage error must not wait seconds for torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 1


def worker_device() -> str:
    """One GPU per worker by worker id (round robin); the CPU where there is none."""
    import torch

    if torch.cuda.is_available():
        return f"cuda:{worker_index() % torch.cuda.device_count()}"
    return "cpu"


def cpu_threads() -> int | None:
    """The torch threads a computing process uses on the CPU: $TRADEOFF_THREADS if set, else
    None (torch's own default: one per core, or $OMP_NUM_THREADS). One process computes per
    device at a time (once_per_device), so on an idle machine all cores are right; beside
    another job fewer are faster (docs/performance.md)."""
    from tradeoff.config.settings import ENV_THREADS
    from tradeoff.errors import UserError

    raw = os.environ.get(ENV_THREADS, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise UserError(f"${ENV_THREADS} must be a whole number >= 1, got {raw!r}")
    return int(raw)


def device_slot(device: str) -> int:
    """The shard number a device owns when generation is split across devices."""
    return int(device.split(":")[1]) if device.startswith("cuda:") else 0
