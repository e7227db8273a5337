"""Timings that hold on a shared machine: contenders interleaved (A B C A B C ...) over several
rounds, so load that comes and goes hits them alike; medians, the min-max range and the load
average reported beside every ratio; the figures also written as JSON.

One contender run once in a fixed order gave 7.71x, 1.02x and 3.46x in three consecutive runs of
the MMLU bench on a loaded 2-core machine: a ratio of single timings measures the neighbours.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from tradeoff.hardware import cpu


@dataclass
class Timing:
    name: str
    seconds: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def spread(self) -> tuple[float, float]:
        return min(self.seconds), max(self.seconds)


def load_average() -> tuple[float, float, float] | None:
    try:
        return os.getloadavg()
    except OSError:  # not every platform has one
        return None


def machine() -> dict[str, Any]:
    """What the figures were measured on (`tradeoff.hardware.cpu`), with torch's thread count."""
    return {**cpu(), "torch_threads": torch.get_num_threads()}


def interleaved(contenders: dict[str, Callable[[], Any]], rounds: int) -> tuple[dict[str, Timing], dict[str, Any]]:
    """Each contender once per round, in the same order every round; returns the timings and
    each contender's result of the last round (for the agreement checks)."""
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    timings = {name: Timing(name) for name in contenders}
    results: dict[str, Any] = {}
    for _ in range(rounds):
        for name, run in contenders.items():
            start = time.perf_counter()
            results[name] = run()
            timings[name].seconds.append(time.perf_counter() - start)
    return timings, results


def ratio(baseline: Timing, contender: Timing) -> float:
    """How many times faster the contender is, median against median."""
    return baseline.median / contender.median


def describe(timings: dict[str, Timing], baseline: str, load_before: Any, load_after: Any) -> list[str]:
    lines = [f"{'contender':<24}{'median s':>10}{'min-max s':>16}{'vs ' + baseline:>16}"]
    for t in timings.values():
        lo, hi = t.spread
        lines.append(f"{t.name:<24}{t.median:>10.2f}{f'{lo:.2f}-{hi:.2f}':>16}{ratio(timings[baseline], t):>15.2f}x")
    lines.append(
        f"rounds {len(next(iter(timings.values())).seconds)}, load average before {load_before}, after {load_after}"
    )
    return lines


def write_figures(path: Path | None, figures: dict[str, Any], timings: dict[str, Timing]) -> None:
    """The bench's figures as JSON (what the docs cite), timings with medians and ranges."""
    if path is None:
        return
    out = {
        **figures,
        "machine": machine(),
        "timings": {
            n: {**asdict(t), "median": t.median, "min": t.spread[0], "max": t.spread[1]} for n, t in timings.items()
        },
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
