"""Who computed a cached value: the parts that decide it (keyed) and the process that made it (recorded).

A cached prediction depends on more than the weights and the prompt: the dtype, the device
type (CPU and GPU kernels round differently), the batch size (left padding changes the
numerics of a batch), the torch/transformers/peft versions and this project's generation and
scoring code. `environment_key` folds all of them into the model part of every cache key, so a
change of any one is a cache miss, never a silently reused number. `process_record` is what a
cache row stores about the process that wrote it (plus the git commit and whether the tree was
dirty); results report that, not the identity of the process that later reads the cache.
"""

from __future__ import annotations

import functools
import hashlib
import json
import platform
import socket
import subprocess
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from tradeoff.config.settings import REPO_ROOT

# Bump when generation or scoring code changes what it computes for the same inputs.
CODE_VERSION = 6  # 4: generation reuses shared prefixes' KV caches; 5: batches refilled, GQA attention, LM head at scored positions; 6: cascade attention over the prefix every prompt shares
KEYED_PACKAGES = ("torch", "transformers", "peft")


def package_versions(names: tuple[str, ...] = KEYED_PACKAGES) -> dict[str, str]:
    """Installed versions of the named packages (a missing one is left out)."""
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def environment(device: str, dtype: str, batch_size: int) -> dict[str, Any]:
    """What, besides weights and inputs, decides a computed value."""
    return {
        "versions": package_versions(),
        "device_type": device.split(":")[0],
        "dtype": dtype,
        "batch_size": batch_size,
        "code": CODE_VERSION,
    }


ENVIRONMENT_FILE = "environment.json"


def write_environment(cache_dir: Path, env: dict[str, Any]) -> Path:
    """Record the environment a precompute run filled the cache in (read back by --computed-on)."""
    from tradeoff.files import write_json_atomic

    path = cache_dir / ENVIRONMENT_FILE
    write_json_atomic(path, env)
    return path


def read_environment(path: Path) -> dict[str, Any]:
    from tradeoff.errors import UserError

    try:
        env = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"--computed-on {path}: cannot read it ({exc})") from None
    keys = set(environment("cpu", "float32", 1))
    if not isinstance(env, dict) or set(env) != keys:
        raise UserError(f"--computed-on {path}: not an environment file (expected the keys {sorted(keys)})")
    return env


def environment_key(model_key: str, env: dict[str, Any]) -> str:
    """The model key of the cache: weights' identity plus the computing environment."""
    payload = json.dumps({"model": model_key, "environment": env}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


@functools.lru_cache(maxsize=1)
def git_state() -> dict[str, Any]:
    """This project's commit and whether the work tree differs from it (None outside git)."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return {"commit": None, "dirty": None}
    status = git("status", "--porcelain", "--untracked-files=normal")
    return {"commit": commit.strip(), "dirty": bool(status and status.strip())}


def process_record(device: str, dtype: str, batch_size: int) -> dict[str, Any]:
    """The identity of the process computing values now, stored with each cache row it writes."""
    return {
        **environment(device, dtype, batch_size),
        "device": device,
        "cpu_threads": _torch_threads(),  # speed only, not in the key: logits measured bitwise equal at 1 and 2
        "python": platform.python_version(),
        "host": socket.gethostname(),
        "git": git_state(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _torch_threads() -> int | None:
    try:
        import torch
    except ImportError:
        return None
    return int(torch.get_num_threads())


def record_id(record: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:16]
