"""Compute missing cache entries once per device, however many xdist workers ask.

Every worker collects the same cases in the same order. The jobs are split into one
share per device; the worker that takes a device's lock first computes that share (the
model is loaded there, once) while workers sharing the device wait on the lock and then
read the cache. A worker then also takes the other devices' locks in turn and fills any
gap, so a run with fewer workers than devices still completes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock

from tradeoff.inference.cache import PredictionCache


@dataclass(frozen=True)
class Job:
    key: str
    case_id: str
    payload: Any


Writer = Callable[[list[tuple[Job, Any]]], None]
Compute = Callable[[list[Job], Writer], None]


def compute_once(
    cache: PredictionCache,
    model_key: str,
    jobs: Sequence[Job],
    lock_dir: Path,
    slot: int,
    n_slots: int,
    compute: Compute,
    provenance: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Return every job's value, computing what the cache lacks under per-device locks.

    `provenance` describes this process (tradeoff.inference.provenance.process_record); every row it
    writes records it."""
    keys = [job.key for job in jobs]
    found = cache.get_many(keys)
    if len(found) == len(set(keys)):
        return found
    lock_dir.mkdir(parents=True, exist_ok=True)

    def write(pairs: list[tuple[Job, Any]]) -> None:
        cache.put_many(model_key, [(job.key, job.case_id, value) for job, value in pairs], provenance)

    for offset in range(n_slots):
        share_slot = (slot + offset) % n_slots
        share = [job for i, job in enumerate(jobs) if i % n_slots == share_slot]
        with FileLock(str(lock_dir / f"{model_key}-{share_slot}.lock")):
            have = cache.get_many(job.key for job in share)
            todo = list({job.key: job for job in share if job.key not in have}.values())
            if todo:
                compute(todo, write)
    found = cache.get_many(keys)
    missing = len(set(keys)) - len(found)
    if missing:
        raise RuntimeError(f"{missing} predictions are still missing after generation")
    return found
