"""Spider cases and their generation jobs, shared by the pytest fixtures and `tradeoff.precompute`."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tradeoff.inference.cache import prediction_key
from tradeoff.inference.once_per_device import Compute, Job
from tradeoff.models.loading import LoadedModel
from tradeoff.suites.spider.data import SpiderData, SpiderExample
from tradeoff.suites.spider.prompts import chat_messages, choose_fewshot, render


@dataclass(frozen=True)
class SpiderCase:
    example: SpiderExample
    hardness: str
    db_path: Path

    @property
    def case_id(self) -> str:
        return self.example.case_id


def spread(items: list[Any], limit: int | None) -> list[Any]:
    """At most `limit` items spaced evenly, so a small run still covers many databases."""
    if limit is None or limit >= len(items):
        return items
    return [items[(i * len(items)) // limit] for i in range(limit)]


def select_cases(
    data: SpiderData, dbs: Sequence[str] = (), hardness: Sequence[str] = (), limit: int | None = None
) -> list[tuple[SpiderCase, str | None]]:
    """The cases a run covers, in dev.json order, each with a skip reason where unscorable."""
    from metrics.hardness import spider_hardness

    chosen = []
    for example in data.dev:
        if dbs and example.db_id not in dbs:
            continue
        level = spider_hardness(example.sql) if example.sql else "unknown"
        if hardness and level not in hardness:
            continue
        case = SpiderCase(example, level, data.db_path(example.db_id))
        chosen.append((case, data.unscorable_reason(example.db_id)))
    return spread(chosen, limit)


# Bumped when what a cached prediction holds changes (2: text and whether the model stopped).
PREDICTION_FORMAT = 2


def generation_settings(max_new_tokens: int, batch_size: int) -> dict[str, Any]:
    """What a cached prediction depends on besides the model and prompt (the batch: rows decoded
    together are padded to each other, and padding can move a near-tie)."""
    return {
        "max_new_tokens": max_new_tokens,
        "batch_size": batch_size,
        "greedy": True,
        "task": "spider",
        "format": PREDICTION_FORMAT,
    }


def spider_jobs(
    data: SpiderData,
    cases: Sequence[SpiderCase],
    tokenizer: Any,
    model_key: str,
    shots: int,
    max_new_tokens: int,
    batch_size: int,
) -> list[Job]:
    """One job per case: its prompt through the model's chat template, keyed for the cache."""
    examples = choose_fewshot(data.train(), shots) if shots else []  # 0 shots need no train split
    settings = generation_settings(max_new_tokens, batch_size)
    jobs = []
    for case in cases:
        prompt = render(tokenizer, chat_messages(data, case.example.db_id, case.example.question, examples))
        jobs.append(Job(prediction_key(model_key, prompt, settings), case.case_id, prompt))
    return jobs


def spider_generator(
    load: Callable[[], LoadedModel], max_new_tokens: int, batch_size: int, label: str, stream: Any = sys.stderr
) -> Compute:
    """The compute step of compute_once: generate SQL for the jobs, writing each batch."""

    def generate(todo: list[Job], write: Callable[[list[tuple[Job, Any]]], None]) -> None:
        from tqdm import tqdm

        from tradeoff.inference.generation import generate_batched

        loaded = load()
        with tqdm(total=len(todo), desc=f"generating SQL ({label})", file=stream) as bar:
            generate_batched(
                loaded.model,
                loaded.tokenizer,
                [job.payload for job in todo],
                max_new_tokens,
                batch_size,
                lambda idx, outs: write([(todo[i], {"text": o.text, "stopped": o.stopped}) for i, o in zip(idx, outs)]),
                progress=bar,
            )

    return generate
