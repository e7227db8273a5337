"""Several models on one base load: adapters hot-swapped on a base model held once (peft keeps
several named adapters in the same LoRA layers; one is active at a time).

A sweep over snapshots and λ points of one base then pays the base model's load once, and
swapping an adapter costs its few MB. Outputs equal those of a freshly loaded model
(tests/unit/test_adapter_swap.py)."""

from __future__ import annotations

import sys
from dataclasses import replace
from typing import Any

from tradeoff.config.experiments import ModelChoice
from tradeoff.models.identity import base_identity, check_adapter_base, model_identity
from tradeoff.models.loading import LoadedModel, load_model, probe_adapter, scale_adapter


class AdapterHost:
    """Holds one base model on `device` and activates the adapter (and λ) each choice names."""

    def __init__(self, device: str = "cpu") -> None:
        self.device = device
        self._base: LoadedModel | None = None
        self._base_key: dict[str, Any] | None = None
        self._peft: Any = None
        self._names: dict[tuple[str, float], str] = {}
        self.base_loads = 0  # how many times a base model was loaded (a sweep over one base: 1)

    def _ensure_base(self, choice: ModelChoice) -> LoadedModel:
        key = base_identity(choice.base)
        if self._base is None or key != self._base_key:
            self._base = load_model(replace(choice, adapter_path=None, adapter_scale=1.0), self.device)
            self._base_key, self._peft, self._names = key, None, {}
            self.base_loads += 1
        return self._base

    def activate(self, choice: ModelChoice) -> LoadedModel:
        base = self._ensure_base(choice)
        identity = model_identity(choice)
        if choice.adapter_path is None:
            if self._peft is not None:
                self._peft.base_model.disable_adapter_layers()  # the LoRA layers stay, doing nothing
            return LoadedModel(
                self._peft if self._peft is not None else base.model, base.tokenizer, self.device, identity
            )
        check_adapter_base(choice.adapter_path, identity)
        slot = (str(choice.adapter_path), choice.adapter_scale)
        if slot not in self._names:
            name = f"a{len(self._names)}"
            if self._peft is None:
                from peft import PeftModel

                self._peft = PeftModel.from_pretrained(base.model, str(choice.adapter_path), adapter_name=name)
            else:
                self._peft.load_adapter(str(choice.adapter_path), adapter_name=name)
            self._peft.base_model.enable_adapter_layers()
            self._peft.set_adapter(name)
            self._peft.eval()
            effect = probe_adapter(self._peft, base.tokenizer, choice.adapter_path)  # before any λ
            if choice.adapter_scale != 1.0:
                scale_adapter(self._peft, choice.adapter_scale, name)
            self._names[slot] = name
            print(f"[{self.device}] adapter {name} = {choice.label}: max |logit change| {effect:.3g}", file=sys.stderr)
        self._peft.base_model.enable_adapter_layers()
        self._peft.set_adapter(self._names[slot])
        return LoadedModel(self._peft, base.tokenizer, self.device, identity)


class SwappedModel:
    """One choice on a shared AdapterHost, as suites see a model (tradeoff.suites.api.ModelAccess)."""

    def __init__(self, host: AdapterHost, choice: ModelChoice, label: str, batch_size: int) -> None:
        from tradeoff.models.access import LazyModel

        self.host, self.choice, self.label, self.batch_size = host, choice, label, batch_size
        self._tokenizer_only = LazyModel(choice, host.device, label, batch_size)  # loads the tokenizer once
        self.loaded = False

    def tokenizer(self) -> Any:
        return self._tokenizer_only.tokenizer()

    def load(self) -> LoadedModel:
        self.loaded = True
        return self.host.activate(self.choice)
