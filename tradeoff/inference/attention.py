"""SDPA attention that hands grouped-query heads to the kernel as they are.

transformers' `sdpa` path expands the keys and values to every query head (`repeat_kv`) whenever
an attention mask is passed, and batched generation always passes one (left padding): a copy of
the whole KV cache per layer per decode step. On the embedded model (9 query heads over 3 KV
heads) that copy was 28% of a batch-16 decode step. torch's kernel takes `enable_gqa=True` with a
mask and gives the same numbers (tests/unit/test_prefix_reuse.py compares against plain
`model.generate`), so generation runs under this implementation, registered with transformers'
attention and mask interfaces.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

NAME = "sdpa_gqa"


def sdpa_gqa_forward(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    is_causal: bool | None = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    if kwargs.get("position_bias") is not None:  # not a decoder this was written for: the stock path
        from transformers.integrations.sdpa_attention import sdpa_attention_forward

        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout, scaling, is_causal, **kwargs)
    causal = is_causal if is_causal is not None else getattr(module, "is_causal", True)
    out = torch.nn.functional.scaled_dot_product_attention(
        query,
        key,
        value,
        attn_mask=attention_mask,
        dropout_p=dropout,
        scale=scaling,
        is_causal=bool(query.shape[2] > 1 and attention_mask is None and causal),
        enable_gqa=getattr(module, "num_key_value_groups", 1) > 1,
    )
    return out.transpose(1, 2).contiguous(), None


def _register() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, sdpa_mask

    if NAME not in AttentionInterface._global_mapping:
        AttentionInterface.register(NAME, sdpa_gqa_forward)
        ALL_MASK_ATTENTION_FUNCTIONS.register(NAME, sdpa_mask)


@contextmanager
def grouped_query_attention(model: Any) -> Iterator[None]:
    """Run `model` under `sdpa_gqa` while inside, if it runs under `sdpa`; restored on exit."""
    config = model.config
    before = getattr(config, "_attn_implementation", None)
    if before != "sdpa":
        yield
        return
    _register()
    config._attn_implementation = NAME
    try:
        yield
    finally:
        config._attn_implementation = before
