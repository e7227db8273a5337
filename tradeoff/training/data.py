"""Spider train examples -> token ids with labels on the assistant turn only, and batches.

The prompt is built by the same `tradeoff.suites.spider.prompts` code evaluation uses (zero-shot), so the
model is trained on exactly the text it is later asked to complete. The loss covers the SQL
and the template's end-of-turn token, nothing before: learning to reproduce schemas would
spend capacity on text the model is always given.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tradeoff.suites.spider.data import SpiderData, SpiderExample, sha256_file
from tradeoff.suites.spider.prompts import chat_messages, render

IGNORE_INDEX = -100  # what torch's cross-entropy (and every HF causal LM) skips


@dataclass
class Encoded:
    input_ids: list[int]
    labels: list[int]
    exact_split: bool  # False when the prompt's tokens were not a prefix of the whole


@dataclass
class TrainingSet:
    features: list[dict[str, list[int]]]
    stats: dict[str, Any] = field(default_factory=dict)


def select_examples(examples: Sequence[SpiderExample], limit: int | None, seed: int) -> list[SpiderExample]:
    """A seeded shuffle, then the first `limit`: a smoke run sees a fair sample, not one database."""
    chosen = list(examples)
    random.Random(seed).shuffle(chosen)
    return chosen[:limit] if limit else chosen


def _common_prefix(a: Sequence[Any], b: Sequence[Any]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def encode(tokenizer: Any, prompt_text: str, full_text: str) -> Encoded:
    """Token ids of the whole conversation; labels are IGNORE_INDEX up to where the answer starts.

    The fast path needs the prompt's tokens to be a prefix of the whole's. Where a template or a
    merge across the boundary breaks that, the split falls back to characters (offsets of a fast
    tokenizer) or, last, to the longest common token prefix; the token that straddles the
    boundary is labelled, so no answer character is ever masked.
    """
    prompt_ids = tokenizer(prompt_text, add_special_tokens=False)["input_ids"]
    if getattr(tokenizer, "is_fast", False):
        full = tokenizer(full_text, add_special_tokens=False, return_offsets_mapping=True)
        offsets = full["offset_mapping"]
    else:
        full, offsets = tokenizer(full_text, add_special_tokens=False), None
    ids = list(full["input_ids"])
    if ids[: len(prompt_ids)] == list(prompt_ids):
        boundary, exact = len(prompt_ids), True
    elif offsets is not None:
        char_start = _common_prefix(prompt_text, full_text)
        boundary = next((i for i, (_, end) in enumerate(offsets) if end > char_start), len(ids))
        exact = False
    else:
        boundary, exact = _common_prefix(prompt_ids, ids), False
    return Encoded(ids, [IGNORE_INDEX] * boundary + ids[boundary:], exact)


def conversation_texts(tokenizer: Any, data: SpiderData, example: SpiderExample) -> tuple[str, str]:
    """(prompt as evaluation renders it, the same conversation with the gold SQL answered)."""
    messages = chat_messages(data, example.db_id, example.question, (), answer=example.query)
    return render(tokenizer, messages[:-1], add_generation_prompt=True), render(
        tokenizer, messages, add_generation_prompt=False
    )


def build_training_set(
    data: SpiderData,
    tokenizer: Any,
    files: Sequence[str],
    max_seq_length: int,
    seed: int,
    limit: int | None = None,
) -> TrainingSet:
    """Encode the chosen examples. One longer than max_seq_length is dropped, not truncated:
    the answer is at the end, so any cut removes SQL (or its end-of-turn token) and would teach
    the model to stop mid-query; cutting the schema instead would train on a prompt that
    evaluation never shows."""
    examples = data.train(tuple(files))
    chosen = select_examples(examples, limit, seed)
    features: list[dict[str, list[int]]] = []
    too_long = no_answer = inexact = 0
    long_dbs: dict[str, int] = {}
    for example in chosen:
        encoded = encode(tokenizer, *conversation_texts(tokenizer, data, example))
        inexact += not encoded.exact_split
        if len(encoded.input_ids) > max_seq_length:
            too_long += 1
            long_dbs[example.db_id] = long_dbs.get(example.db_id, 0) + 1
            continue
        if all(label == IGNORE_INDEX for label in encoded.labels):
            no_answer += 1
            continue
        features.append({"input_ids": encoded.input_ids, "labels": encoded.labels})
    lengths = [len(f["input_ids"]) for f in features]
    stats = {
        "examples_in_files": len(examples),
        "selected": len(chosen),
        "used": len(features),
        "dropped_longer_than_max_seq_length": too_long,
        "dropped_longer_by_database": dict(sorted(long_dbs.items(), key=lambda kv: (-kv[1], kv[0]))),
        "dropped_without_answer_tokens": no_answer,
        "inexact_prompt_split": inexact,
        "tokens": sum(lengths),
        "answer_tokens": sum(sum(1 for x in f["labels"] if x != IGNORE_INDEX) for f in features),
        "max_length": max(lengths, default=0),
        "mean_length": round(sum(lengths) / len(lengths), 1) if lengths else 0,
    }
    return TrainingSet(features, stats)


def data_checksums(data: SpiderData, files: Sequence[str]) -> dict[str, str]:
    """sha256 of what the training text depends on: the train files and the schemas."""
    return {name: sha256_file(data.root / name) for name in (*files, "tables.json")}


class PadCollator:
    """Right-pads a batch (training needs no left padding: nothing is generated).

    Padding goes to a multiple of `multiple_of` (8 on GPUs, for tensor cores); padded positions
    get attention 0 and label IGNORE_INDEX, so the pad id itself never matters.
    """

    def __init__(self, pad_token_id: int, multiple_of: int = 1) -> None:
        self.pad_token_id = pad_token_id
        self.multiple_of = max(1, multiple_of)

    def __call__(self, features: list[dict[str, list[int]]]) -> dict[str, Any]:
        import torch

        longest = max(len(f["input_ids"]) for f in features)
        width = -(-longest // self.multiple_of) * self.multiple_of
        ids = torch.full((len(features), width), self.pad_token_id, dtype=torch.long)
        labels = torch.full((len(features), width), IGNORE_INDEX, dtype=torch.long)
        mask = torch.zeros((len(features), width), dtype=torch.long)
        for row, feature in enumerate(features):
            n = len(feature["input_ids"])
            ids[row, :n] = torch.tensor(feature["input_ids"])
            labels[row, :n] = torch.tensor(feature["labels"])
            mask[row, :n] = 1
        return {"input_ids": ids, "labels": labels, "attention_mask": mask}
