"""Rolling log-likelihood of whole texts (lm-eval's `loglikelihood_rolling`): every token of the
text scored given all tokens before it, the first given the prefix token (BOS, else EOS), in
windows of at most the model's context length whose predicted tokens do not overlap."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from tradeoff.inference.attention import grouped_query_attention, shared_prefix
from tradeoff.inference.once_per_device import Compute, Job, Writer
from tradeoff.inference.prefix_tree import common_prefix_length


def supports_logits_to_keep(model: Any) -> bool:
    """Whether the LM head can be limited to the scored positions (a PEFT wrapper forwards
    the keyword to its base model, so look there)."""
    import inspect

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return "logits_to_keep" in inspect.signature(base.forward).parameters


def prefix_kv(model: Any, tokens: list[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The KV cache of `tokens` (a prefix shared by what is scored next), per layer; the LM head
    runs at the last position only."""
    ids = torch.tensor([tokens], dtype=torch.long, device=model.device)
    kwargs: dict[str, Any] = {"input_ids": ids, "use_cache": True}
    if supports_logits_to_keep(model):
        kwargs["logits_to_keep"] = 1
    cache = model(**kwargs).past_key_values
    return [(layer.keys, layer.values) for layer in cache.layers]


@dataclass(frozen=True)
class TextScore:
    loglikelihood: float  # natural log, summed over the text's tokens
    tokens: int


def prefix_token_id(tokenizer: Any) -> int:
    """The token the first text token is predicted from, as lm-eval's HF model chooses it."""
    token = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    if token is None:
        raise ValueError("the tokenizer has neither a BOS nor an EOS token to start a text from")
    return int(token)


def windows(tokens: Sequence[int], prefix: int, max_length: int) -> list[tuple[list[int], int]]:
    """(input ids, number of scored positions at its end) per window: the targets are disjoint
    blocks of at most max_length tokens, each window's input the longest context that fits."""
    full = [prefix, *tokens]
    out = []
    for start in range(1, len(full), max_length):
        end = min(len(full), start + max_length)
        out.append((full[max(0, end - 1 - max_length) : end - 1] + [full[end - 1]], end - start))
    return out


def _max_length(model: Any) -> int:
    return int(getattr(model.config, "max_position_embeddings", 2048))


@torch.inference_mode()
def score_texts(model: Any, tokenizer: Any, texts: Sequence[str], batch_size: int) -> list[TextScore]:
    """Each text's summed token log-likelihood (texts batched by length, right-padded)."""
    prefix, limit = prefix_token_id(tokenizer), _max_length(model)
    jobs: list[tuple[int, list[int], int]] = []  # (text index, window ids incl. last target, scored)
    for i, text in enumerate(texts):
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        for window, scored in windows(ids, prefix, limit):
            jobs.append((i, window, scored))
    totals = [0.0] * len(texts)
    counts = [0] * len(texts)
    order = sorted(range(len(jobs)), key=lambda j: -len(jobs[j][1]))
    device = next(model.parameters()).device
    for at in range(0, len(order), batch_size):
        batch = [jobs[j] for j in order[at : at + batch_size]]
        width = max(len(w) for _, w, _ in batch) - 1
        inputs = torch.zeros((len(batch), width), dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, (_, window, _) in enumerate(batch):
            inputs[row, : len(window) - 1] = torch.tensor(window[:-1])
            mask[row, : len(window) - 1] = 1
        with grouped_query_attention(model):
            logits = model(input_ids=inputs.to(device), attention_mask=mask.to(device)).logits.float()
        logprobs = torch.log_softmax(logits, dim=-1)
        for row, (i, window, scored) in enumerate(batch):
            n = len(window) - 1
            targets = torch.tensor(window[1:], device=device)[n - scored :]
            picked = logprobs[row, n - scored : n].gather(-1, targets[:, None]).squeeze(-1)
            totals[i] += float(picked.sum())
            counts[i] += scored
    return [TextScore(total, count) for total, count in zip(totals, counts)]


# Sequences that all begin with this many tokens before their first scored one (a k-shot
# block) compute them once and attend to them by cascade attention.
MIN_SHARED_PREFIX = 128


def shared_prefix_length(sequences: Sequence[tuple[list[int], list[int]]]) -> int:
    """How many leading tokens every sequence has in common, ending before any sequence's first
    scored position (that position's logits must come from a token that is fed, not cached)."""
    if not sequences:
        return 0
    first = sequences[0][0]
    common = len(first)
    for ids, labels in sequences:
        scored = next((p for p in range(len(ids) - 1) if labels[p + 1] != -100), len(ids) - 1)
        common = min(common_prefix_length(first[:common], ids), scored)
    return common


@torch.inference_mode()
def score_labelled(model: Any, sequences: Sequence[tuple[list[int], list[int]]], batch_size: int) -> list[TextScore]:
    """Each sequence's summed log-likelihood of its labelled tokens (labels as in training: the
    token id where it counts, -100 where it does not), every token given all before it.

    When every sequence begins with the same `MIN_SHARED_PREFIX` or more tokens (the k-shot
    block of a few-shot prompt), those are computed once and attended by cascade attention."""
    order = sorted(range(len(sequences)), key=lambda i: -len(sequences[i][0]))
    out: list[TextScore | None] = [None] * len(sequences)
    device = next(model.parameters()).device
    cut = shared_prefix_length(sequences) if len(sequences) > 1 else 0
    kv = None
    if cut >= MIN_SHARED_PREFIX:
        with grouped_query_attention(model):
            kv = prefix_kv(model, sequences[0][0][:cut])
    else:
        cut = 0
    for at in range(0, len(order), batch_size):
        batch = [sequences[i] for i in order[at : at + batch_size]]
        width = max(len(ids) for ids, _ in batch) - cut
        inputs = torch.zeros((len(batch), width), dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, (ids, _) in enumerate(batch):
            inputs[row, : len(ids) - cut] = torch.tensor(ids[cut:])
            mask[row, : len(ids) - cut] = 1
        # position p predicts token p + 1: score the labelled ones, and run the LM head there alone
        scored = [[p for p in range(len(ids) - 1) if labels[p + 1] != -100] for ids, labels in batch]
        needed = sorted({p - cut for positions in scored for p in positions}) or [0]
        column = {p + cut: c for c, p in enumerate(needed)}
        kwargs: dict[str, Any] = {"input_ids": inputs.to(device), "attention_mask": mask.to(device)}
        if cut:
            kwargs["position_ids"] = torch.arange(cut, cut + width, device=device)[None].expand(len(batch), -1)
        if supports_logits_to_keep(model):
            kwargs["logits_to_keep"] = torch.tensor(needed, device=device)
        with grouped_query_attention(model), shared_prefix(kv):
            logits = model(**kwargs).logits
        if "logits_to_keep" not in kwargs:
            logits = logits[:, needed]
        for row, (ids, _) in enumerate(batch):
            positions = scored[row]
            if not positions:
                out[order[at + row]] = TextScore(0.0, 0)
                continue
            rows = torch.log_softmax(logits[row, [column[p] for p in positions]].float(), dim=-1)
            targets = torch.tensor([ids[p + 1] for p in positions], device=device)
            out[order[at + row]] = TextScore(float(rows.gather(-1, targets[:, None]).sum()), len(positions))
    return [s for s in out if s is not None]


def scorer(model: Any, desc: str, every: int, score: Callable[[Any, list[Any]], list[TextScore]]) -> Compute:
    """A compute step that scores jobs' payloads in chunks of `every`
    and writes each chunk's {"loglikelihood", "tokens"} at once, so an interruption loses little.
    `model` is a suites.api.ModelAccess, loaded on the first chunk; `score(loaded, payloads)`."""

    def compute(todo: list[Job], write: Writer) -> None:
        import sys

        from tqdm import tqdm

        loaded = model.load()
        with tqdm(total=len(todo), desc=f"{desc} ({model.label})", file=sys.stderr) as bar:
            for at in range(0, len(todo), every):
                part = todo[at : at + every]
                scores = score(loaded, [j.payload for j in part])
                write([(j, {"loglikelihood": s.loglikelihood, "tokens": s.tokens}) for j, s in zip(part, scores)])
                bar.update(len(part))

    return compute
