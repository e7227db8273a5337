"""bench/mmlu_floor.py: the work it counts is the work the scorer runs, priced at the model's
own linear layers (the lower bound that says whether the MMLU time goal is reachable)."""

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.mmlu_floor import Work, counting, flops, linear_shapes, stand_in  # noqa: E402
from tradeoff.suites.mmlu.data import load_split  # noqa: E402
from tradeoff.suites.mmlu.prompts import fewshot_prefix  # noqa: E402
from tradeoff.suites.mmlu.scoring import plan_rows, score_questions  # noqa: E402

from tiny_models import mistral_tokenizer, mmlu_data_dir, tiny_llama, tiny_mistral  # noqa: E402

MMLU = mmlu_data_dir()


def test_linear_shapes_are_the_decoder_layers_weights():
    model = tiny_llama(400, layers=3)
    decoder = [m for name, m in model.named_modules() if isinstance(m, torch.nn.Linear) and "lm_head" not in name]
    assert 2 * sum(m.weight.numel() for m in decoder) == flops(model.config, Work(positions=1))
    head = Work(head_positions=1)
    assert flops(model.config, head) == 2 * model.lm_head.weight.numel()
    assert len(linear_shapes(model.config)) * 3 == len(decoder)


def test_counted_work_is_what_the_scorer_feeds():
    tokenizer = mistral_tokenizer()  # " A".." D" one token each: one row per question
    model = tiny_mistral()
    questions = load_split(MMLU, "anatomy", "test")[:3]
    prefix = fewshot_prefix("anatomy", load_split(MMLU, "anatomy", "dev"), 5, "letter")
    plan = plan_rows(tokenizer, questions, prefix, "letter")
    cached = len(plan.cached_tokens)
    assert cached > 0 and len(plan.rows) == len(questions)
    with counting(model) as work:
        score_questions(model, tokenizer, questions, prefix, "letter", batch_size=8)
    suffixes = [len(r.tokens) - cached for r in plan.rows]
    assert work.shapes == [(1, cached), (len(plan.rows), max(suffixes))]  # the prefix once, one batch
    assert work.fed == cached + sum(suffixes)
    assert work.positions == cached + len(plan.rows) * max(suffixes)
    # the LM head runs at every row for each column some row needs: its own last position
    columns = {t.first_pos for r in plan.rows for t in r.targets}
    assert work.head_positions == 1 + len(plan.rows) * len(columns)
    assert flops(model.config, work, padded=False) <= flops(model.config, work)


def test_the_stand_in_keeps_what_decides_the_plan():
    model = tiny_llama(400)
    small = stand_in(model.config)
    for key in ("vocab_size", "max_position_embeddings", "model_type"):
        assert getattr(small.config, key) == getattr(model.config, key)
    assert small.config.num_hidden_layers == 1
