"""Batched greedy generation: length-sorted batches, left padding, results per batch."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import torch


class Generation(NamedTuple):
    """One prompt's output, and whether the model ended its turn (False: cut at max_new_tokens)."""

    text: str
    stopped: bool


def stop_token_ids(model: Any, tokenizer: Any) -> list[int]:
    """Every id that ends a turn: generation config's eos (often a list) and the tokenizer's."""
    ids: set[int] = set()
    eos = getattr(model.generation_config, "eos_token_id", None)
    ids.update(eos if isinstance(eos, list) else [eos] if eos is not None else [])
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return sorted(ids)


@torch.inference_mode()
def generate_batched(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    max_new_tokens: int,
    batch_size: int,
    on_batch: Callable[[list[int], list[Generation]], None],
    progress: Any | None = None,
    **generate_kwargs: Any,
) -> None:
    """Generate for every prompt; call on_batch(indices, generations) as each batch finishes.

    Longest prompts go first so a batch holds similar lengths (little padding) and an
    out-of-memory error shows up at once rather than at the end.
    """
    device = next(model.parameters()).device
    lengths = [len(tokenizer(p, add_special_tokens=False).input_ids) for p in prompts]
    order = sorted(range(len(prompts)), key=lambda i: -lengths[i])
    stops = stop_token_ids(model, tokenizer)
    for start in range(0, len(order), batch_size):
        indices = order[start : start + batch_size]
        batch = tokenizer(
            [prompts[i] for i in indices], return_tensors="pt", padding=True, add_special_tokens=False
        ).to(device)
        output = model.generate(
            **batch,
            do_sample=False,
            max_new_tokens=max_new_tokens,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=stops,
            **generate_kwargs,
        )
        new_tokens = output[:, batch["input_ids"].shape[1] :]
        texts = tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
        stopped = torch.isin(new_tokens, torch.tensor(stops, device=new_tokens.device)).any(dim=1).tolist()
        on_batch(indices, [Generation(t, bool(s)) for t, s in zip(texts, stopped)])
        if progress is not None:
            progress.update(len(indices))
