"""Generation that computes each shared prefix's KV cache once equals plain model.generate."""

from __future__ import annotations

from cascade_spy import spy_cascade  # noqa: E402

from tradeoff.inference import generation
from tradeoff.inference.generation import Generation, generate_batched, generate_uncached
from tradeoff.inference.prefix_tree import prefix_tree

from tiny_models import bytelevel_tokenizer, tiny_llama  # noqa: E402

SYSTEM = "System: answer with one SQL query over the schema below, nothing else. " * 2
SCHEMAS = ["Schema: singer(id, name, age, country) concert(id, year, stadium)", "Schema: pets(id, kind, weight)"]
QUESTIONS = ["How many singers?", "List every name.", "Which year had the most concerts held there?", "Oldest?"]


def _prompts() -> list[str]:
    return [f"{SYSTEM}\n{s}\nQuestion: {q}\nSQL:" for s in SCHEMAS for q in QUESTIONS] + ["short one"]


def _run(fn, model, tokenizer, prompts, batch_size: int, max_new: int, **kwargs) -> list[Generation]:
    out: dict[int, Generation] = {}
    fn(model, tokenizer, prompts, max_new, batch_size, lambda idx, gens: out.update(zip(idx, gens)), **kwargs)
    return [out[i] for i in range(len(prompts))]


def test_prefix_tree_groups_prompts_by_their_shared_tokens():
    shared, a, b = list(range(40)), [100 + i for i in range(40)], [200 + i for i in range(40)]
    ids = [shared + a + [1], shared + a + [2], shared + b + [3], shared + b + [4], [7, 8]]
    nodes, node_of = prefix_tree(ids, min_shared=32)
    assert nodes[node_of[0]] is nodes[node_of[1]] and nodes[node_of[0]].length == 80
    assert nodes[node_of[2]].length == 80 and node_of[2] != node_of[0]
    assert nodes[node_of[4]].length == 0  # shares nothing: no prefix of its own
    for i, node in enumerate(node_of):  # every prompt keeps a token of its own to continue from
        assert nodes[node].length < len(ids[i])
        assert ids[i][: nodes[node].length] == ids[node_of.index(node)][: nodes[node].length]


def test_prefix_reuse_matches_plain_generation_on_a_tiny_model():
    tokenizer = bytelevel_tokenizer()
    tokenizer.pad_token, tokenizer.padding_side = tokenizer.eos_token, "left"  # as load_tokenizer sets
    model = tiny_llama(len(tokenizer), seed=3)
    # a frequent token ends the turn, so rows stop at different steps and leave their batch
    model.generation_config.eos_token_id = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(" the")[0])
    prompts = _prompts()
    for batch_size in (1, 3, 16):
        plain = _run(generate_uncached, model, tokenizer, prompts, batch_size, 12)
        reused = _run(generate_batched, model, tokenizer, prompts, batch_size, 12)
        assert reused == plain, batch_size
    assert len({g.text for g in plain}) > 1  # the comparison is not between identical outputs


def test_rows_that_join_a_running_batch_and_a_minimum_length_match_plain_generation(monkeypatch):
    """More prompts than places: finished rows are replaced mid-decode by newly prefilled ones.
    With min_new_tokens the stop tokens are barred as model.generate bars them."""
    tokenizer = bytelevel_tokenizer()
    tokenizer.pad_token, tokenizer.padding_side = tokenizer.eos_token, "left"
    model = tiny_llama(len(tokenizer), seed=5)
    model.generation_config.eos_token_id = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(" the")[0])
    prompts = _prompts() + [f"{SYSTEM}\n{SCHEMAS[0]}\nQuestion: {q} again?\nSQL:" for q in QUESTIONS]
    joins = []
    real_join = generation._Rows.join

    def counting_join(self, other, room):
        joins.append(len(other.prompts))
        return real_join(self, other, room)

    monkeypatch.setattr(generation._Rows, "join", counting_join)
    for batch_size in (4, 5):
        plain = _run(generate_uncached, model, tokenizer, prompts, batch_size, 10)
        reused = _run(generate_batched, model, tokenizer, prompts, batch_size, 10)
        assert reused == plain, batch_size
    assert joins, "no row ever joined a running batch"
    fixed = _run(generate_batched, model, tokenizer, prompts, 4, 10, min_new_tokens=6)
    assert fixed == _run(generate_uncached, model, tokenizer, prompts, 4, 10, min_new_tokens=6)
    assert fixed != plain
    assert sum(g.stopped for g in plain) > 0 and sum(not g.stopped for g in plain) > 0


def test_cascade_attention_equals_attention_over_the_concatenated_keys():
    """The shared prefix attended once for all rows gives SDPA's result over [prefix, own keys],
    with left padding in the own part, grouped-query heads, decode (few queries: attended apart)
    and prefill (many: the shared keys put before the own for the fused kernel)."""
    import torch

    from tradeoff.inference import attention

    torch.manual_seed(0)
    batch, heads, kv_heads, dim, shared, own = 3, 6, 2, 8, 7, 40
    assert 3 * 4 <= attention.CASCADE_MAX_QUERIES < 3 * 30  # both the decode and the prefill way
    for length in (1, 4, 30):
        query = torch.randn(batch, heads, length, dim)
        key, value = torch.randn(batch, kv_heads, own, dim), torch.randn(batch, kv_heads, own, dim)
        shared_key, shared_value = torch.randn(1, kv_heads, shared, dim), torch.randn(1, kv_heads, shared, dim)
        mask = torch.ones(length, own, dtype=torch.bool).tril(own - length)[None, None].repeat(batch, 1, 1, 1)
        mask[1, :, :, :2] = False  # row 1 is left-padded by two positions
        full_mask = torch.cat([torch.ones(batch, 1, length, shared, dtype=torch.bool), mask], dim=-1)
        expected = torch.nn.functional.scaled_dot_product_attention(
            query,
            torch.cat([shared_key.expand(batch, -1, -1, -1), key], dim=2),
            torch.cat([shared_value.expand(batch, -1, -1, -1), value], dim=2),
            attn_mask=full_mask,
            enable_gqa=True,
        ).transpose(1, 2)
        got = attention.cascade_attention(query, key, value, shared_key, shared_value, mask, dim**-0.5)
        torch.testing.assert_close(got, expected)
        if length > 1:  # no mask: causal within the own part
            causal = attention.cascade_attention(query, key, value, shared_key, shared_value, None, dim**-0.5)
            unpadded = mask.clone()
            unpadded[1] = mask[0]
            again = attention.cascade_attention(query, key, value, shared_key, shared_value, unpadded, dim**-0.5)
            torch.testing.assert_close(causal, again)


def test_a_prefix_every_prompt_shares_is_attended_by_cascade_and_matches_plain_generation(monkeypatch):
    """All prompts continue one system prompt (a k-shot block in the study): it is held once and
    attended by cascade attention, and the outputs are plain generation's."""
    tokenizer = bytelevel_tokenizer()
    tokenizer.pad_token, tokenizer.padding_side = tokenizer.eos_token, "left"
    model = tiny_llama(len(tokenizer), seed=7)
    model.generation_config.eos_token_id = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(" the")[0])
    prompts = _prompts()[:-1] + [f"{SYSTEM}\nQuestion: {q}\nSQL:" for q in QUESTIONS]  # some with no schema
    calls = spy_cascade(monkeypatch)
    for batch_size in (3, 16):
        calls.clear()
        plain = _run(generate_uncached, model, tokenizer, prompts, batch_size, 12)
        assert not calls
        assert _run(generate_batched, model, tokenizer, prompts, batch_size, 12) == plain, batch_size
        shared = len(tokenizer(SYSTEM + "\n", add_special_tokens=False).input_ids) - 1
        assert calls and min(calls) >= shared  # the common prefix went through cascade attention
        calls.clear()
        assert _run(generate_batched, model, tokenizer, prompts, batch_size, 12, min_cascade=10**6) == plain
        assert not calls  # below the threshold: copied into each row as before
    assert len({g.text for g in plain}) > 1
