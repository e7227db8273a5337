"""What identifies a model without loading it: content hashes of the base weights (kept per file
version across processes), a hub id's revision, the adapter's bytes and train.py's record of the
base it was trained on. The model part of every cache key."""

from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from tradeoff.config import settings
from tradeoff.config.experiments import BaseModelSpec, ModelChoice
from tradeoff.errors import UserError
from tradeoff.files import sha256_file
from tradeoff.models.gguf import GGUF_PREFIX, locate_packaged_gguf

ADAPTER_META = "tradeoff_adapter.json"  # written by train.py beside the adapter


def _sha256(path: Path) -> str:
    """Content hash, computed once per file version: a run asks for the base model's identity
    in several places (option checks, cache keys, loading) and in every xdist worker, and a
    7B checkpoint is 14 GB, so hashes persist across processes (`hash_store`)."""
    st = os.stat(path)
    return _sha256_of(str(Path(path).resolve()), st.st_ino, st.st_size, st.st_mtime_ns)


HASH_STORE = "file-sha256.json"


STORED_MIN_BYTES = 1 << 20  # smaller files are cheaper to hash than to look up in the store


def hash_store() -> Path:
    return settings.cache_dir() / HASH_STORE


@functools.lru_cache(maxsize=4096)
def _sha256_of(path: str, inode: int, size: int, mtime_ns: int) -> str:
    """sha256 of one file version, from the persistent store when it was hashed before."""
    if size < STORED_MIN_BYTES:
        return sha256_file(Path(path))
    version = f"{path}|{inode}|{size}|{mtime_ns}"
    store = hash_store()
    try:
        known = json.loads(store.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        known = {}
    if isinstance(known, dict) and isinstance(known.get(version), str):
        return known[version]
    value = sha256_file(Path(path))
    _remember_hash(store, version, value)
    return value


def _remember_hash(store: Path, version: str, value: str) -> None:
    from filelock import FileLock

    try:
        store.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(store) + ".lock"):
            try:
                known = json.loads(store.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                known = {}
            known = known if isinstance(known, dict) else {}
            known[version] = value
            tmp = store.with_name(f"{store.name}.tmp{os.getpid()}")
            tmp.write_text(json.dumps(known, indent=0, sort_keys=True), encoding="utf-8")
            os.replace(tmp, store)
    except OSError:
        pass  # an unwritable cache only costs a rehash next time


def directory_hash(path: Path, skip: tuple[str, ...] = ()) -> str:
    """Content hash of every file in a directory (names and bytes), order-independent."""
    digest = hashlib.sha256()
    for file in sorted(p for p in Path(path).rglob("*") if p.is_file() and p.name not in skip):
        digest.update(str(file.relative_to(path)).encode() + b"\0")
        digest.update(_sha256(file).encode())
    return digest.hexdigest()


def _checkpoint_fingerprint(path: Path) -> str:
    """Content hash of every file of a checkpoint folder: a model retrained into the same folder
    must not reuse the old one's outputs. Each file is hashed once per version (`_sha256`)."""
    return directory_hash(path)


def hub_revision(repo_id: str) -> str | None:
    """The commit a hub id resolves to, without loading weights: the local snapshot when the hub
    cache has one, else the hub's answer (None offline with nothing cached)."""
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id, local_files_only=True)).name
    except Exception:  # noqa: BLE001 - not cached, or not a hub id at all
        pass
    if os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("TRANSFORMERS_OFFLINE") == "1":
        return None
    try:
        from huggingface_hub import HfApi

        return str(HfApi().model_info(repo_id).sha)
    except Exception:  # noqa: BLE001 - unreachable hub or unknown id: loading will say which
        return None


def base_identity(spec: BaseModelSpec) -> dict[str, Any]:
    """What identifies the base weights, computed without loading them."""
    if spec.source.startswith(GGUF_PREFIX):
        return {"base": spec.source, "base_sha256": _sha256(locate_packaged_gguf(spec.source))}
    local = Path(spec.source).expanduser()
    if local.is_file():
        return {"base": str(local.resolve()), "base_sha256": _sha256(local)}
    if local.is_dir():
        return {"base": str(local.resolve()), "base_fingerprint": _checkpoint_fingerprint(local)}
    return {"base": spec.source, "revision": hub_revision(spec.source)}


def model_identity(choice: ModelChoice) -> dict[str, Any]:
    """Base identity plus adapter content hash: the model part of every cache key (a predictions
    file: its content hash alone)."""
    if choice.predictions is not None:
        return {
            "kind": "predictions",
            "predictions_file": str(choice.predictions),
            "predictions_sha256": sha256_file(choice.predictions),
        }
    identity = base_identity(choice.base)
    if choice.adapter_path is not None:
        identity.update(adapter_identity(choice.adapter_path))
        if choice.adapter_scale != 1.0:  # λ = 1 is the adapter itself: same outputs, same key
            identity["adapter_scale"] = choice.adapter_scale
    return identity


def identity_key(identity: dict[str, Any]) -> str:
    """What a cached prediction depends on: base weights and adapter bytes, not paths (a file or
    folder is named by its content; only a hub id, with its revision, is named by itself)."""
    hashed = identity.get("base_sha256") or identity.get("base_fingerprint")
    if identity.get("predictions_sha256"):
        return hashlib.sha256(f"predictions:{identity['predictions_sha256']}".encode()).hexdigest()[:24]
    keep = {k: identity.get(k) for k in ("base_sha256", "base_fingerprint", "revision", "adapter_sha256")}
    if not hashed:
        keep["base"] = identity.get("base")
    if identity.get("adapter_scale", 1.0) != 1.0:
        keep["adapter_scale"] = identity["adapter_scale"]
    return hashlib.sha256(json.dumps(keep, sort_keys=True).encode()).hexdigest()[:24]


def _adapter_meta(adapter: Path) -> dict[str, Any]:
    """train.py's record beside the adapter ({} when absent); unreadable is a user error."""
    meta_path = adapter / ADAPTER_META
    if not meta_path.is_file():
        return {}
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"adapter {adapter}: {ADAPTER_META} is unreadable ({exc})") from None
    if not isinstance(meta, dict):
        raise UserError(f"adapter {adapter}: {ADAPTER_META} must hold a JSON object")
    return meta


def adapter_identity(path: Path) -> dict[str, Any]:
    meta = _adapter_meta(path)
    return {"adapter": str(path), "adapter_sha256": directory_hash(path, skip=(ADAPTER_META,)), "adapter_meta": meta}


def base_keys(identity: dict[str, Any]) -> dict[str, Any]:
    """What names the base weights in an identity: what train.py records beside an adapter and
    check_adapter_base compares."""
    return {k: identity[k] for k in ("base", "base_sha256", "base_fingerprint") if k in identity}


def check_adapter_base(adapter: Path, identity: dict[str, Any]) -> None:
    """Refuse an adapter trained on other base weights: its deltas would be meaningless."""
    meta = _adapter_meta(adapter)
    for key in ("base_sha256", "base_fingerprint", "base"):
        if key in meta and key in identity:
            mismatch = meta[key] != identity[key]
            break
    else:
        mismatch = False
    if mismatch:
        raise UserError(
            f"adapter {adapter} was trained on base {meta.get('base')!r} "
            f"but the base model here is {identity.get('base')!r}"
        )
