"""Batched generation records whether each output ended its turn or hit max_new_tokens."""

from __future__ import annotations

from tradeoff.inference.generation import Generation, generate_batched  # noqa: E402

from tiny_models import bytelevel_tokenizer, rig_output_bias, tiny_llama  # noqa: E402


def _generate(favourite: int, prompts: list[str], max_new_tokens: int = 4) -> list[Generation]:
    tokenizer = bytelevel_tokenizer()
    tokenizer.pad_token = tokenizer.eos_token
    model = rig_output_bias(tiny_llama(len(tokenizer)), {favourite: 10.0})
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    out: dict[int, Generation] = {}
    generate_batched(model, tokenizer, prompts, max_new_tokens, 2, lambda idx, gens: out.update(zip(idx, gens)))
    return [out[i] for i in range(len(prompts))]


def test_an_output_cut_at_max_new_tokens_is_marked_not_stopped():
    tokenizer = bytelevel_tokenizer()
    word = tokenizer.convert_tokens_to_ids(tokenizer.tokenize("The")[0])
    gens = _generate(word, ["Question: a", "Question: which gas do plants absorb?", "x"])
    assert all(not g.stopped for g in gens)  # the rigged model never emits end-of-turn
    assert all(g.text for g in gens)


def test_an_output_that_ends_its_turn_is_marked_stopped():
    tokenizer = bytelevel_tokenizer()
    gens = _generate(tokenizer.eos_token_id, ["Question: a", "Question: which gas do plants absorb?", "x"])
    assert all(g.stopped for g in gens)
    assert all(g.text == "" for g in gens)
