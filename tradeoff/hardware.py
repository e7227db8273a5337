"""What a figure was measured on. Sessions land on different CPUs (one 2-core machine ran fp32
GEMMs at ~50 GFLOP/s beside a training job, another at ~330 idle, with AVX-512), so a duration
or a rate without its CPU cannot be compared with another."""

from __future__ import annotations

import os
import platform
from pathlib import Path

VECTOR_ISAS = ("avx512f", "avx2", "avx")  # widest first


def cpu(cpuinfo: Path = Path("/proc/cpuinfo")) -> dict[str, str | int | None]:
    """The CPU's model name, its core count and its widest vector unit ("unknown" off Linux)."""
    model, flags = platform.processor() or platform.machine(), set[str]()
    try:
        for line in cpuinfo.read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
    except OSError:  # not Linux
        pass
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "vector_isa": next((isa for isa in VECTOR_ISAS if isa in flags), "unknown"),
    }
