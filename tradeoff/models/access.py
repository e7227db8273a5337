"""The model as suites see it (tradeoff.suites.api.ModelAccess): tokenizer and weights loaded on
first use only, so a process that finds every value cached never loads the model."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tradeoff.config.experiments import ModelChoice
from tradeoff.errors import UserError
from tradeoff.models.identity import model_identity
from tradeoff.models.loading import LoadedModel, base_location, load_model, load_tokenizer


class LazyModel:
    def __init__(
        self,
        choice: ModelChoice,
        device: str,
        label: str,
        batch_size: int,
        announce: Callable[[str], None] | None = None,
    ) -> None:
        self.choice, self.device, self.label, self.batch_size = choice, device, label, batch_size
        self._announce = announce
        self._tokenizer: Any = None
        self._loaded: LoadedModel | None = None

    @property
    def loaded(self) -> bool:
        return self._loaded is not None

    def _refuse_predictions(self) -> None:
        if self.choice.predictions is not None:
            raise UserError(f"--model {self.label} is a predictions file: there is no model to run")

    def tokenizer(self) -> Any:
        """The tokenizer alone (prompts need its chat template, not the weights)."""
        self._refuse_predictions()
        if self._loaded is not None:
            return self._loaded.tokenizer
        if self._tokenizer is None:
            identity = model_identity(self.choice)
            self._tokenizer = load_tokenizer(base_location(self.choice.base, identity), identity.get("revision"))
        return self._tokenizer

    def load(self) -> LoadedModel:
        self._refuse_predictions()
        if self._loaded is None:
            if self._announce is not None:
                self._announce(f"[{self.device}] loading {self.label} ...")
            self._loaded = load_model(self.choice, self.device)
        return self._loaded
