"""SDPA attention that hands grouped-query heads to the kernel as they are.

transformers' `sdpa` path expands the keys and values to every query head (`repeat_kv`) whenever
an attention mask is passed, and batched generation always passes one (left padding): a copy of
the whole KV cache per layer per decode step. On the embedded model (9 query heads over 3 KV
heads) that copy was 28% of a batch-16 decode step. torch's kernel takes `enable_gqa=True` with a
mask and gives the same numbers (tests/unit/test_prefix_reuse.py compares against plain
`model.generate`), so generation runs under this implementation, registered with transformers'
attention and mask interfaces.

Under `shared_prefix(kv)` the same implementation does cascade attention: every row of the batch
continues one prefix (a k-shot block, a system prompt) whose keys and values are held once, not
copied into each row's cache. The rows' queries are stacked into one matrix product against the
shared keys, the rows' own caches are attended as before, and one softmax runs over both parts,
so the result is the attention over the concatenated keys. On the embedded model at batch 32 a
4-shot row otherwise reads its own copy of 1,160 few-shot positions at every decode step.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import torch

NAME = "sdpa_gqa"
# Queries per row (query heads x new tokens) up to which the shared prefix is attended apart
# (decoding); above it (prefill) it is put before each row's keys for torch's fused kernel.
CASCADE_MAX_QUERIES = 64

KV = Sequence[tuple[torch.Tensor, torch.Tensor]]  # per layer (keys, values), [1, kv_heads, length, dim]
_SHARED: ContextVar[KV | None] = ContextVar("shared_prefix", default=None)


@contextmanager
def shared_prefix(kv: KV | None) -> Iterator[None]:
    """Inside, attention layers also attend to `kv`, a prefix every row of the batch continues.

    The rows' own caches and position ids start after it; their attention masks cover only
    their own part (the prefix is seen by every query)."""
    token = _SHARED.set(kv)
    try:
        yield
    finally:
        _SHARED.reset(token)


def cascade_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    shared_key: torch.Tensor,
    shared_value: torch.Tensor,
    mask: torch.Tensor | None,
    scale: float,
) -> torch.Tensor:
    """Attention over [shared prefix, own keys]: query [B, H, T, d], key/value [B, Hkv, L, d],
    shared [1, Hkv, S, d], mask [B, 1, T, L] bool (True: attend) or None for causal; returns
    [B, T, H, d].

    Decoding (few queries per row): the shared part is one matrix product per KV head for all
    rows and grouped heads, the own part a batched product over the rows' caches as they lie,
    and one softmax runs over both. Prefill (many queries per row): the score matrix would be
    large, so the shared keys are put before each row's own and torch's fused kernel runs (the
    copy a prefill made anyway)."""
    batch, heads, length, dim = query.shape
    kv_heads, own, shared = key.shape[1], key.shape[2], shared_key.shape[2]
    groups = heads // kv_heads
    if mask is None:  # causal within the rows' own part, which ends with the queries
        mask = torch.ones(length, own, dtype=torch.bool, device=query.device).tril(own - length)[None, None]
    mask = mask.expand(batch, 1, length, own)
    if groups * length > CASCADE_MAX_QUERIES:
        keys = torch.cat([shared_key.expand(batch, -1, -1, -1), key], dim=2)
        values = torch.cat([shared_value.expand(batch, -1, -1, -1), value], dim=2)
        full = torch.cat([mask.new_ones(batch, 1, length, shared), mask], dim=-1)
        out = torch.nn.functional.scaled_dot_product_attention(
            query, keys, values, attn_mask=full, scale=scale, enable_gqa=groups > 1
        )
        return out.transpose(1, 2).contiguous()
    rows = groups * length
    # query head h reads KV head h // G (transformers' repeat_kv order): [B, Hkv, G*T, d]
    q = query.reshape(batch, kv_heads, rows, dim)
    stacked = q.transpose(0, 1).reshape(kv_heads, batch * rows, dim)  # every row's queries, per KV head
    s_shared = torch.matmul(stacked, shared_key[0].transpose(1, 2)).view(kv_heads, batch, rows, shared)
    s_own = torch.matmul(q, key.transpose(2, 3)).view(batch, kv_heads, groups, length, own)
    s_own = s_own.masked_fill(~mask[:, :, None], float("-inf")).view(batch, kv_heads, rows, own)
    weights = torch.softmax(torch.cat([s_shared.transpose(0, 1), s_own], dim=-1) * scale, dim=-1)
    w_shared = weights[..., :shared].transpose(0, 1).reshape(kv_heads, batch * rows, shared)
    out = torch.matmul(w_shared, shared_value[0]).view(kv_heads, batch, rows, dim).transpose(0, 1)
    out = out + torch.matmul(weights[..., shared:], value)
    # [B, Hkv, G, T, d] -> [B, T, Hkv * G, d]
    return out.view(batch, kv_heads, groups, length, dim).permute(0, 3, 1, 2, 4).reshape(batch, length, heads, dim)


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
    shared = _SHARED.get()
    if shared is not None and not module.training:
        layer: int = module.layer_idx  # type: ignore[assignment]
        shared_key, shared_value = shared[layer]
        scale = scaling if scaling is not None else query.shape[-1] ** -0.5
        return cascade_attention(query, key, value, shared_key, shared_value, attention_mask, scale), None
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
