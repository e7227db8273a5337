"""Batched greedy generation, each shared prompt prefix computed once.

`generate_batched` plans the prompts' shared token prefixes as a tree (system prompt, then
each database's schema; for k-shot prompts the few-shot block above both), computes each
prefix's KV cache once by extending its parent's, and decodes the prompts' own suffixes from
those caches in batches whose rows may hang off different prefixes. The prefix every prompt
shares (the system prompt; for k-shot prompts the few-shot block too) is not copied into each
row: it is held once and attended by cascade attention (`attention.shared_prefix`). A row that
has ended its turn leaves the batch at once, so no decode step is spent on it. `generate_uncached` is the
plain `model.generate` path kept as the reference the reuse must reproduce (tests, bench).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import torch

from tradeoff.inference.attention import KV, grouped_query_attention, shared_prefix
from tradeoff.inference.prefix_tree import PrefixNode, prefix_tree

# A prefix is worth its own KV cache when at least two prompts share this many more tokens.
MIN_SHARED_TOKENS = 32
# The prefix common to every prompt is attended once for all rows (cascade) when at least this long.
MIN_CASCADE_TOKENS = 1


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
def generate_uncached(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    max_new_tokens: int,
    batch_size: int,
    on_batch: Callable[[list[int], list[Generation]], None],
    progress: Any | None = None,
    **generate_kwargs: Any,
) -> None:
    """The reference path: `model.generate` on left-padded batches, no prefix reuse.

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


class PrefixCaches:
    """Each planned prefix's KV cache, computed on first use from its parent's and dropped
    once every prompt under it has been generated."""

    def __init__(self, model: Any, ids: Sequence[Sequence[int]], nodes: list[PrefixNode], node_of: list[int]):
        self.model, self.ids, self.nodes = model, ids, nodes
        self.device = next(model.parameters()).device
        self.example = [-1] * len(nodes)  # one prompt under each node: where its tokens come from
        self.pending = [0] * len(nodes)  # prompts under each node not generated yet
        for prompt, node in enumerate(node_of):
            for n in self.path(node):
                self.pending[n] += 1
                self.example[n] = prompt
        self.kv: dict[int, KV] = {}

    def path(self, node: int) -> list[int]:
        out = []
        at: int | None = node
        while at is not None:
            out.append(at)
            at = self.nodes[at].parent
        return out

    def get(self, node: int) -> KV | None:
        if self.nodes[node].length == 0:
            return None
        if node not in self.kv:
            self.kv[node] = self._extend(node)
        return self.kv[node]

    def _extend(self, node: int) -> KV:
        from transformers import DynamicCache

        parent = self.nodes[node].parent
        start = self.nodes[parent].length if parent is not None else 0
        past = self.get(parent) if parent is not None else None
        end = self.nodes[node].length
        tokens = torch.tensor([self.ids[self.example[node]][start:end]], device=self.device)
        cache = DynamicCache(ddp_cache_data=past) if past is not None else DynamicCache()
        out = self.model(
            input_ids=tokens,
            position_ids=torch.arange(start, end, device=self.device)[None],
            past_key_values=cache,
            use_cache=True,
            logits_to_keep=1,
        )
        return tuple((layer.keys, layer.values) for layer in out.past_key_values.layers)

    def done(self, node: int) -> None:
        for n in self.path(node):
            self.pending[n] -= 1
            if self.pending[n] == 0:
                self.kv.pop(n, None)


def _growing_layer_class() -> type:
    from transformers.cache_utils import DynamicLayer

    class GrowingLayer(DynamicLayer):  # type: ignore[misc]
        """A cache layer written in place into room reserved ahead: transformers' DynamicLayer
        concatenates the whole cache at every step, which was 63% of a batch-32 decode step's
        CPU time on the embedded model."""

        def fill(self, keys: torch.Tensor, values: torch.Tensor, room: int) -> None:
            shape = (*keys.shape[:2], keys.shape[2] + room, keys.shape[3])
            self._k, self._v = keys.new_empty(shape), values.new_empty(shape)
            self._k[:, :, : keys.shape[2]] = keys
            self._v[:, :, : keys.shape[2]] = values
            self.dtype, self.device, self.is_initialized = keys.dtype, keys.device, True
            self._view(keys.shape[2])

        def _view(self, n: int) -> None:
            self._n = n
            self.keys, self.values = self._k[:, :, :n], self._v[:, :, :n]

        def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
            n, new = self._n, key_states.shape[2]
            if n + new > self._k.shape[2]:  # out of room: keep what is there, reserve as much again
                self.fill(self._k[:, :, :n], self._v[:, :, :n], max(new, n))
            self._k[:, :, n : n + new] = key_states
            self._v[:, :, n : n + new] = value_states
            self._view(n + new)
            return self.keys, self.values

        def batch_select_indices(self, indices: torch.Tensor) -> None:
            self._k, self._v = self._k[indices], self._v[indices]
            self._view(self._n)

    return GrowingLayer


def _batch_cache(prefixes: list[KV | None], lengths: list[int], room: int, like: KV | None = None) -> Any:
    """One cache for a batch: each row's prefix right-aligned in a zero-padded block, with room
    for the suffix and every new token written in place. `like` gives the layers' shapes when
    no row has a prefix of its own."""
    from transformers import DynamicCache

    width = max(lengths)
    cache = DynamicCache()
    sample = next((p for p in prefixes if p is not None and len(p[0][0][0, 0]) > 0), like if width == 0 else None)
    if sample is None:
        return cache
    grow = _growing_layer_class()
    cache.layers = []
    for layer, (k0, v0) in enumerate(sample):
        shape = (len(prefixes), k0.shape[1], width, k0.shape[3])
        keys, values = k0.new_zeros(shape), v0.new_zeros(shape)
        for row, (prefix, n) in enumerate(zip(prefixes, lengths)):
            if prefix is not None and n:
                keys[row, :, width - n :] = prefix[layer][0][0]
                values[row, :, width - n :] = prefix[layer][1][0]
        target = grow()
        target.fill(keys, values, room)
        cache.layers.append(target)
    return cache


class _Rows:
    """The rows being decoded together: their shared batch cache, attention mask (a row's real
    tokens are its 1s; the rest is padding), next positions and last logits."""

    def __init__(
        self,
        prompts: list[int],
        cache: Any,
        mask: torch.Tensor,
        positions: torch.Tensor,
        logits: torch.Tensor,
        shared: KV | None,
    ):
        self.prompts, self.cache, self.mask, self.positions, self.logits = prompts, cache, mask, positions, logits
        self.shared = shared

    def keep(self, rows: list[int]) -> None:
        if len(rows) == len(self.prompts):
            return
        index = torch.tensor(rows, device=self.mask.device)
        self.cache.batch_select_indices(index)
        self.mask, self.positions, self.logits = self.mask[index], self.positions[index], self.logits[index]
        self.prompts = [self.prompts[r] for r in rows]

    def join(self, other: _Rows, room: int) -> None:
        """Take in `other`'s rows: every row's real tokens packed right-aligned in one fresh cache,
        so the padding left by rows that came and went is dropped."""
        from transformers import DynamicCache

        mask = torch.cat([_pad_left(self.mask, other.mask.shape[1]), _pad_left(other.mask, self.mask.shape[1])])
        lengths = mask.sum(dim=1)
        width = int(lengths.max())
        sources = [(0, r, self.mask[r].nonzero().squeeze(1)) for r in range(len(self.prompts))]
        sources += [(1, r, other.mask[r].nonzero().squeeze(1)) for r in range(len(other.prompts))]
        grow = _growing_layer_class()
        layers = []
        for pair in zip(self.cache.layers, other.cache.layers):
            k0 = pair[0].keys
            shape = (len(sources), k0.shape[1], width, k0.shape[3])
            keys, values = k0.new_zeros(shape), k0.new_zeros(shape)
            for row, (side, r, real) in enumerate(sources):
                keys[row, :, width - len(real) :] = pair[side].keys[r][:, real]
                values[row, :, width - len(real) :] = pair[side].values[r][:, real]
            target = grow()
            target.fill(keys, values, room)
            layers.append(target)
        self.cache = DynamicCache()
        self.cache.layers = layers
        packed = torch.arange(width, device=mask.device)[None] >= (width - lengths)[:, None]
        self.mask = packed.long()
        self.positions = torch.cat([self.positions, other.positions])
        self.logits = torch.cat([self.logits, other.logits])
        self.prompts = self.prompts + other.prompts

    def step(self, model: Any, tokens: torch.Tensor) -> None:
        self.mask = torch.cat([self.mask, self.mask.new_ones((len(self.prompts), 1))], dim=1)
        with shared_prefix(self.shared):
            out = model(
                input_ids=tokens[:, None],
                attention_mask=self.mask,
                position_ids=self.positions[:, None],
                past_key_values=self.cache,
                use_cache=True,
            )
        self.positions = self.positions + 1
        self.logits = out.logits[:, -1]


def _pad_left(mask: torch.Tensor, width: int) -> torch.Tensor:
    return torch.cat([mask.new_zeros((mask.shape[0], max(0, width - mask.shape[1]))), mask], dim=1)


def _prefill(
    model: Any,
    prompts: list[int],
    prefixes: list[KV | None],
    prefix_lengths: list[int],
    suffixes: list[Sequence[int]],
    room: int,
    pad_id: int,
    shared: KV | None = None,
) -> _Rows:
    """Run new rows' own suffixes over their prefixes' caches: the rows, ready for their first token.

    With a `shared` prefix (every row continues it, attended by cascade), `prefixes` and
    `prefix_lengths` are each row's part after it; positions count from the start of the prompt."""
    offset = shared[0][0].shape[2] if shared is not None else 0
    device = next(model.parameters()).device
    rows, width, slen = len(suffixes), max(prefix_lengths), max(len(s) for s in suffixes)
    input_ids = torch.full((rows, slen), pad_id, dtype=torch.long)
    mask = torch.zeros((rows, width + slen), dtype=torch.long)
    positions = torch.ones((rows, slen), dtype=torch.long)
    for row, (suffix, n) in enumerate(zip(suffixes, prefix_lengths)):
        m = len(suffix)
        input_ids[row, slen - m :] = torch.tensor(list(suffix))
        mask[row, width - n : width] = 1
        mask[row, width + slen - m :] = 1
        positions[row, slen - m :] = torch.arange(offset + n, offset + n + m)
    next_position = torch.tensor([offset + n + len(s) for n, s in zip(prefix_lengths, suffixes)])
    cache = _batch_cache(prefixes, prefix_lengths, slen + room, like=shared)
    mask = mask.to(device)
    with shared_prefix(shared):
        out = model(
            input_ids=input_ids.to(device),
            attention_mask=mask,
            position_ids=positions.to(device),
            past_key_values=cache,
            use_cache=True,
            logits_to_keep=1,
        )
    return _Rows(prompts, cache, mask, next_position.to(device), out.logits[:, -1], shared)


@torch.inference_mode()
def generate_batched(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    max_new_tokens: int,
    batch_size: int,
    on_batch: Callable[[list[int], list[Generation]], None],
    progress: Any | None = None,
    min_shared: int = MIN_SHARED_TOKENS,
    min_new_tokens: int = 0,
    min_cascade: int = MIN_CASCADE_TOKENS,
) -> None:
    """Greedy generation for every prompt, each shared prefix computed once; on_batch(indices,
    generations) is called as rows finish.

    Up to `batch_size` rows decode together. A row leaves as soon as it ends its turn, and once a
    quarter of the places are free the next prompts are prefilled and join, so the batch stays full
    to the end. Prompts are taken in order of prefix length, then prefix, then suffix length, so
    rows that join together share prefixes, and a prefix's cache is freed once its last prompt has
    joined. `min_new_tokens` bars the stop tokens until that many were generated (benchmarks that
    need a fixed length). The prefix every prompt shares, if `min_cascade` tokens or more, is
    attended once for all rows (cascade attention) instead of copied into each.
    """
    with grouped_query_attention(model):
        ids = [tokenizer(p, add_special_tokens=False).input_ids for p in prompts]
        nodes, node_of = prefix_tree(ids, min_shared)
        caches = PrefixCaches(model, ids, nodes, node_of)
        common = nodes[0].length if nodes else 0  # the root: the prefix of every prompt
        shared = caches.get(0) if common >= max(1, min_cascade) else None
        offset = common if shared is not None else 0

        def own(node: int) -> KV | None:  # a prompt's prefix after the shared one
            kv = caches.get(node)
            if kv is None or offset == 0:
                return kv
            return tuple((k[:, :, offset:], v[:, :, offset:]) for k, v in kv)

        stops = stop_token_ids(model, tokenizer)
        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else stops[0]
        queue = sorted(range(len(ids)), key=lambda i: (-nodes[node_of[i]].length, node_of[i], -len(ids[i]), i))
        queue.reverse()  # popped from the end
        refill_at = batch_size - max(1, batch_size // 4)
        stop_set, barred = set(stops), torch.tensor(stops, device=next(model.parameters()).device)
        tokens: dict[int, list[int]] = {}
        batch: _Rows | None = None
        while queue or batch is not None:
            if queue and (batch is None or len(batch.prompts) <= refill_at):
                joining = [
                    queue.pop() for _ in range(min(len(queue), batch_size - (len(batch.prompts) if batch else 0)))
                ]
                lengths = [nodes[node_of[i]].length - offset for i in joining]
                new = _prefill(
                    model,
                    joining,
                    [own(node_of[i]) for i in joining],
                    lengths,
                    [ids[i][offset + n :] for i, n in zip(joining, lengths)],
                    max_new_tokens,
                    pad_id,
                    shared,
                )
                for i in joining:
                    caches.done(node_of[i])
                    tokens[i] = []
                if batch is None:
                    batch = new
                else:
                    batch.join(new, max_new_tokens)
            assert batch is not None
            logits = batch.logits
            if min_new_tokens:
                early = [row for row, i in enumerate(batch.prompts) if len(tokens[i]) < min_new_tokens]
                if early:
                    logits = logits.clone()
                    logits[torch.tensor(early, device=logits.device)[:, None], barred[None, :]] = float("-inf")
            chosen = logits.argmax(dim=-1)
            keep, finished, stopped = [], [], []
            for row, (i, token) in enumerate(zip(batch.prompts, chosen.tolist())):
                tokens[i].append(token)
                if token in stop_set or len(tokens[i]) >= max_new_tokens:
                    finished.append(i)
                    stopped.append(token in stop_set)
                else:
                    keep.append(row)
            if finished:
                texts = tokenizer.batch_decode([tokens.pop(i) for i in finished], skip_special_tokens=True)
                on_batch(finished, [Generation(t, s) for t, s in zip(texts, stopped)])
                if progress is not None:
                    progress.update(len(finished))
            if not keep:
                batch = None
                continue
            chosen = chosen[torch.tensor(keep, device=chosen.device)] if len(keep) < len(chosen) else chosen
            batch.keep(keep)
            batch.step(model, chosen)
