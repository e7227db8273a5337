"""Load a base model (hub id, local path, or a GGUF shipped in a PyPI package) and an adapter.

Nothing here is specific to one model: the embedded SmolLM2 and Mistral-7B take the same path.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tradeoff.config.experiments import BaseModelSpec, ModelChoice, is_shipped
from tradeoff.errors import UserError
from tradeoff.models.gguf import GGUF_PREFIX, converted_gguf_dir, locate_packaged_gguf
from tradeoff.models.identity import check_adapter_base, model_identity


@dataclass
class LoadedModel:
    model: Any
    tokenizer: Any
    device: str
    identity: dict[str, Any] = field(default_factory=dict)


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


def base_location(spec: BaseModelSpec, identity: dict[str, Any]) -> str:
    """Where from_pretrained reads the base model (a GGUF becomes a converted checkpoint)."""
    if spec.source.startswith(GGUF_PREFIX):
        return str(converted_gguf_dir(locate_packaged_gguf(spec.source), identity["base_sha256"]))
    if Path(spec.source).expanduser().is_file():
        return str(converted_gguf_dir(Path(spec.source).expanduser(), identity["base_sha256"]))
    return spec.source


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

    from tradeoff.inference.devices import cpu_threads

    threads = cpu_threads() if device == "cpu" else None
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
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
        origin = "shipped with the repository" if is_shipped(choice.adapter_path) else "trained locally"
        print(f"[{device}] adapter {choice.adapter_path} ({origin})", file=sys.stderr)
        model = PeftModel.from_pretrained(model, str(choice.adapter_path))  # type: ignore[assignment, arg-type]
    model.to(device)  # type: ignore[arg-type]
    model.eval()
    if choice.adapter_path is not None:
        effect = probe_adapter(model, tokenizer, choice.adapter_path)
        identity["adapter_probe_max_abs_logit_change"] = effect
        print(f"[{device}] adapter applied: max |logit change| {effect:.3g} on a probe prompt", file=sys.stderr)
        if choice.adapter_scale != 1.0:  # probed at full strength above, so λ = 0 is no "untrained" adapter
            scale_adapter(model, choice.adapter_scale)
            print(f"[{device}] LoRA contribution scaled by {choice.adapter_scale:g}", file=sys.stderr)
    return LoadedModel(model, tokenizer, device, identity)


def scale_adapter(model: Any, scale: float, adapter: str | None = None) -> int:
    """Multiply every LoRA layer's contribution by `scale` (partial adaptation: W + λ·BA·α/r), for
    one adapter of a model holding several, or for all. Returns how many layers were scaled; none
    is an error (nothing would be measured)."""
    from peft.tuners.lora import LoraLayer

    layers = [m for m in model.modules() if isinstance(m, LoraLayer)]
    if not layers:
        raise UserError("adapter scale: the model has no LoRA layers to scale")
    for layer in layers:
        for name in list(layer.scaling):
            if adapter is None or name == adapter:
                layer.scaling[name] = layer.scaling[name] * scale
    return len(layers)


PROBE = "List the names of singers older than 30.\nSELECT name FROM singer WHERE age > 30"


def probe_adapter(model: Any, tokenizer: Any, adapter: Path) -> float:
    """adapter_effect, refusing an adapter that changes nothing (at full strength, before any λ)."""
    effect = adapter_effect(model, tokenizer)
    if effect == 0.0:
        raise UserError(
            f"adapter {adapter} does not change the base model's logits on a probe "
            "(untrained or all-zero LoRA weights?): evaluating it would measure the base model"
        )
    return effect


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
