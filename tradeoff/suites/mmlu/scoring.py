"""MMLU scored by log-likelihood, the way lm-eval's HFLM does it, but with the few-shot prefix cached.

Why: generating an answer and regex-matching it (the reference study) under-counts instruct
models badly (~28% vs ~60% for Mistral-7B-Instruct). lm-eval instead compares the
log-likelihoods of the four answer continuations. We reproduce its arithmetic exactly:

* tokenisation: `context` and `context + continuation` are encoded with the tokenizer's
  default special tokens and the continuation is the tail of the joint encoding
  (HFLM `_encode_pair`); the model input is `context_tokens + continuation_tokens[:-1]`.
* one forward row per distinct input, so four single-token letters " A".." D" cost one
  row whose last position supplies all four log-probs; multi-token continuations (cloze, or
  a tokenizer that splits " A") get a row each.
* predictions: acc = argmax(ll); acc_norm = argmax(ll / len(choice)) in characters;
  acc_bytes = argmax(ll / utf-8 bytes) - lm-eval 0.4.13's definitions (np.argmax ties -> first).

Speed comes from the prefix: every question of a subject starts with the same description and
k shots, so its KV cache is computed once and every batch of question suffixes (right-padded;
positions continue after the prefix) attends to it by cascade attention
(`tradeoff.inference.attention.shared_prefix`): the prefix's keys are held once and read by one
matrix product for the whole batch, where a cache expanded over the batch is copied into every
row at every layer. `cascade=False` keeps the expanded cache (the reference for tests and bench).
The cached tokens are the longest token prefix shared by the prefix's own encoding and every
row's encoding, so a tokenizer that merges across the boundary (byte-level BPE joins "\\n\\n"
differently at the end of a string) just caches a little less instead of scoring wrong tokens.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from tradeoff.inference.attention import grouped_query_attention, shared_prefix
from tradeoff.inference.loglikelihood import prefix_kv, supports_logits_to_keep
from tradeoff.inference.prefix_tree import common_prefix_length
from tradeoff.suites.mmlu.data import MMLUQuestion, load_split
from tradeoff.suites.mmlu.prompts import (
    DEFAULT_SHOTS,
    Formulation,
    choice_texts,
    continuations,
    fewshot_prefix,
    question_text,
)


@dataclass(frozen=True)
class QuestionScore:
    """Log-likelihoods of the four options and the predictions lm-eval derives from them.

    `predicted` is lm-eval's `acc` prediction; `norm_predicted`/`bytes_predicted` are its
    `acc_norm`/`acc_bytes` predictions (cloze only; with single letters they equal `predicted`).
    `correct` uses the formulation's headline metric: acc for letter, acc_norm for cloze.
    """

    case_id: str
    subject: str
    answer: int
    formulation: str
    loglikelihoods: tuple[float, float, float, float]
    predicted: int
    norm_predicted: int | None = None
    bytes_predicted: int | None = None

    @property
    def headline_predicted(self) -> int:
        if self.formulation == "cloze" and self.norm_predicted is not None:
            return self.norm_predicted
        return self.predicted

    @property
    def correct(self) -> bool:
        return self.headline_predicted == self.answer

    @property
    def acc_correct(self) -> bool:
        return self.predicted == self.answer

    @property
    def acc_norm_correct(self) -> bool | None:
        return None if self.norm_predicted is None else self.norm_predicted == self.answer


def _argmax(values: Sequence[float]) -> int:
    """np.argmax semantics: the first index of the maximum."""
    best = 0
    for i, v in enumerate(values):
        if v > values[best]:
            best = i
    return best


def cloze_predictions(loglikelihoods: Sequence[float], choices: Sequence[str]) -> tuple[int, int, int]:
    """(acc, acc_norm, acc_bytes) predictions as lm-eval's multiple_choice process_results computes them."""
    if len(loglikelihoods) != len(choices):
        raise ValueError(f"{len(loglikelihoods)} log-likelihoods for {len(choices)} choices")
    chars = [ll / max(len(c), 1) for ll, c in zip(loglikelihoods, choices)]
    nbytes = [ll / max(len(c.encode("utf-8")), 1) for ll, c in zip(loglikelihoods, choices)]
    return _argmax(loglikelihoods), _argmax(chars), _argmax(nbytes)


# ----------------------------------------------------------------------------- tokenisation


def tok_encode(tokenizer: Any, text: str) -> list[int]:
    """HFLM.tok_encode with default settings: the tokenizer's own special tokens, unless the text
    already starts with the BOS (or EOS standing in for it) string."""
    prefix_id = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    kwargs: dict[str, bool] = {}
    if prefix_id is not None and text.startswith(tokenizer.decode(prefix_id)):
        kwargs["add_special_tokens"] = False
    return list(tokenizer.encode(text, **kwargs))


def encode_pair(tokenizer: Any, context: str, continuation: str) -> tuple[list[int], list[int]]:
    """HFLM `_encode_pair` for causal models: trailing context spaces move to the continuation,
    the continuation tokens are the joint encoding minus the context encoding's length."""
    n_spaces = len(context) - len(context.rstrip())
    if n_spaces:
        continuation = context[-n_spaces:] + continuation
        context = context[:-n_spaces]
    whole = tok_encode(tokenizer, context + continuation)
    ctx = tok_encode(tokenizer, context)
    return ctx, whole[len(ctx) :]


# ----------------------------------------------------------------------------- plan


@dataclass
class _Target:
    question: int
    choice: int
    first_pos: int  # row position whose logits predict the first continuation token
    tokens: list[int]


@dataclass
class _Row:
    tokens: list[int]
    targets: list[_Target] = field(default_factory=list)


@dataclass
class ScoringPlan:
    """The forward rows for a set of questions sharing a prefix, and how many leading tokens
    of every row are served from the prefix KV cache (0 = no reuse)."""

    rows: list[_Row]
    cached_tokens: list[int]
    prefix_tokens: list[int]

    @property
    def n_rows(self) -> int:
        return len(self.rows)


def plan_rows(
    tokenizer: Any,
    questions: Sequence[MMLUQuestion],
    prefix: str,
    formulation: Formulation = "letter",
    reuse_prefix: bool = True,
) -> ScoringPlan:
    """Tokenise every (context, continuation) pair as lm-eval would and group identical inputs."""
    rows: dict[tuple[int, ...], _Row] = {}
    for qi, q in enumerate(questions):
        context = prefix + question_text(q, formulation)
        for ci, cont in enumerate(continuations(q, formulation)):
            ctx_enc, cont_enc = encode_pair(tokenizer, context, cont)
            if not ctx_enc or not cont_enc:
                raise ValueError(f"{q.case_id}: empty context or continuation after tokenisation ({cont!r})")
            key = tuple(ctx_enc + cont_enc[:-1])
            row = rows.setdefault(key, _Row(list(key)))
            row.targets.append(_Target(qi, ci, len(ctx_enc) - 1, cont_enc))
    row_list = list(rows.values())
    prefix_tokens = tok_encode(tokenizer, prefix) if prefix else []
    cached = 0
    if reuse_prefix and row_list and prefix_tokens:
        cached = len(prefix_tokens)
        for row in row_list:
            # Logits are needed from `first_pos` on, so that token must be fed, not cached.
            limit = min(t.first_pos for t in row.targets)
            cached = min(cached, limit, common_prefix_length(row.tokens, prefix_tokens))
    return ScoringPlan(row_list, prefix_tokens[:cached], prefix_tokens)


# ----------------------------------------------------------------------------- forward


def _expanded_cache(model: Any, kv: list[tuple[torch.Tensor, torch.Tensor]], batch: int) -> Any:
    return _cache_of(model, [(k.expand(batch, -1, -1, -1), v.expand(batch, -1, -1, -1)) for k, v in kv])


def _cache_of(model: Any, data: list[tuple[torch.Tensor, torch.Tensor]]) -> Any:
    from transformers import DynamicCache

    return DynamicCache(ddp_cache_data=data, config=model.config)


def _pad_id(tokenizer: Any) -> int:
    for tid in (tokenizer.pad_token_id, tokenizer.eos_token_id, 0):
        if tid is not None:
            return int(tid)
    return 0


def _check_length(model: Any, plan: ScoringPlan) -> bool:
    """Refuse prompts over the context; False when a KV cache may not be used (sliding window)."""
    longest = max((len(r.tokens) for r in plan.rows), default=0)
    limit = getattr(model.config, "max_position_embeddings", None)
    if limit is not None and longest > limit:
        raise ValueError(
            f"an MMLU prompt is {longest} tokens, over the model's {limit}-token context; "
            "lm-eval would silently left-truncate it - use fewer shots"
        )
    window = getattr(model.config, "sliding_window", None)
    if window is not None and longest > window:
        plan.cached_tokens = []  # the cache layer would drop old keys; score uncached instead
        return False
    return True


def _stems(plan: ScoringPlan) -> dict[tuple[int, ...], list[_Row]]:
    """The rows by stem: their tokens after the cached prefix, up to their first scored position."""
    p = len(plan.cached_tokens)
    groups: dict[tuple[int, ...], list[_Row]] = {}
    for row in plan.rows:
        groups.setdefault(tuple(row.tokens[p : min(t.first_pos for t in row.targets)]), []).append(row)
    return groups


def _shares_stems(plan: ScoringPlan) -> bool:
    """Whether some rows share a stem (cloze: a question's four options)."""
    return len(_stems(plan)) < len(plan.rows)


def _score_over_prefix(
    model: Any,
    rows: list[_Row],
    p: int,
    kv: Any | None,
    pad_id: int,
    out: dict[tuple[int, int], float],
    cascade: bool,
) -> None:
    """One forward of rows whose first p tokens are the cached prefix `kv`."""
    if kv is not None and cascade:
        with shared_prefix(kv):
            _score_batch(model, rows, [p] * len(rows), [[]] * len(rows), None, pad_id, out)
        return
    cache = _expanded_cache(model, kv, len(rows)) if kv is not None else None
    _score_batch(model, rows, [p] * len(rows), [[1] * p] * len(rows), cache, pad_id, out)


def _score_rows(
    model: Any,
    plan: ScoringPlan,
    pad_id: int,
    batch_size: int,
    progress: bool,
    cascade: bool = True,
) -> dict[tuple[int, int], float]:
    """Run every row (longest first) and return {(question, choice): log-likelihood}."""
    p = len(plan.cached_tokens)
    kv = prefix_kv(model, plan.cached_tokens) if p else None
    order = sorted(range(len(plan.rows)), key=lambda i: -len(plan.rows[i].tokens))
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    out: dict[tuple[int, int], float] = {}
    for batch in _progress(batches, progress):
        _score_over_prefix(model, [plan.rows[i] for i in batch], p, kv, pad_id, out, cascade)
    return out


def _score_rows_two_level(
    model: Any,
    plan: ScoringPlan,
    pad_id: int,
    batch_size: int,
    progress: bool,
    cascade: bool = True,
) -> dict[tuple[int, int], float]:
    """Rows that share a question stem (a cloze question's four options) in two passes: the
    stems of `batch_size` questions over the cached prefix, then every option row of those
    questions over its own stem's cache, so a stem is computed once instead of once per option.

    A stem ends before the first position whose logits are scored. Stems are right-padded; an
    option row's mask skips its stem's padding and its positions continue the stem's own. Under
    cascade the stems' cache and masks hold the stems alone; the prefix is the shared part.
    """
    p = len(plan.cached_tokens)
    kv = prefix_kv(model, plan.cached_tokens) if p else None
    shared = kv if cascade else None
    past = 0 if shared is not None else p  # cache slots before a stem's own
    groups = _stems(plan)
    stems = sorted(groups, key=len, reverse=True)
    batches = [stems[i : i + batch_size] for i in range(0, len(stems), batch_size)]
    out: dict[tuple[int, int], float] = {}
    device = model.device
    for batch in _progress(batches, progress):
        width = max(len(s) for s in batch)
        if width == 0:  # nothing beyond the prefix to share
            for stem in batch:
                _score_over_prefix(model, groups[stem], p, kv, pad_id, out, cascade)
            continue
        ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), past + width), dtype=torch.long)
        mask[:, :past] = 1
        for i, stem in enumerate(batch):
            ids[i, : len(stem)] = torch.tensor(stem, dtype=torch.long)
            mask[i, past : past + len(stem)] = 1
        kwargs: dict[str, Any] = {
            "input_ids": ids.to(device),
            "attention_mask": mask.to(device),
            "position_ids": torch.arange(p, p + width, device=device)[None].expand(len(batch), -1),
            "use_cache": True,
        }
        if kv is not None and shared is None:
            kwargs["past_key_values"] = _expanded_cache(model, kv, len(batch))
        if supports_logits_to_keep(model):
            kwargs["logits_to_keep"] = 1
        with shared_prefix(shared):
            stem_kv = [(layer.keys, layer.values) for layer in model(**kwargs).past_key_values.layers]
        rows, owner = [], []
        for i, stem in enumerate(batch):
            rows += groups[stem]
            owner += [i] * len(groups[stem])
        index = torch.tensor(owner, device=device)
        cache = _cache_of(model, [(k.index_select(0, index), v.index_select(0, index)) for k, v in stem_kv])
        starts = [p + len(batch[i]) for i in owner]
        masks = [mask[i].tolist() for i in owner]
        with shared_prefix(shared):
            _score_batch(model, rows, starts, masks, cache, pad_id, out)
    return out


def _progress(batches: list[Any], progress: bool) -> Iterable[Any]:
    if not progress:
        return batches
    from tqdm.auto import tqdm

    return tqdm(batches, desc="MMLU batches", leave=False)


def _score_batch(
    model: Any,
    rows: list[_Row],
    starts: list[int],
    past_masks: list[list[int]],
    cache: Any | None,
    pad_id: int,
    out: dict[tuple[int, int], float],
) -> None:
    """One forward over rows whose first `starts[i]` tokens are in `cache` (mask `past_masks[i]`
    over the cache's slots; under a shared prefix, the prefix's tokens are not in it); adds each
    target's log-likelihood to `out`."""
    device = model.device
    suffixes = [r.tokens[s:] for r, s in zip(rows, starts)]
    width = max(len(s) for s in suffixes)
    n, past = len(rows), len(past_masks[0])
    ids = torch.full((n, width), pad_id, dtype=torch.long)
    mask = torch.zeros((n, past + width), dtype=torch.long)
    positions = torch.zeros((n, width), dtype=torch.long)
    for i, (s, start) in enumerate(zip(suffixes, starts)):
        ids[i, : len(s)] = torch.tensor(s, dtype=torch.long)
        mask[i, :past] = torch.tensor(past_masks[i], dtype=torch.long)
        mask[i, past : past + len(s)] = 1
        positions[i] = torch.arange(start, start + width)
    # column of each scored position, per row (positions are relative to the row's suffix)
    needed = sorted(
        {
            pos - st
            for r, st in zip(rows, starts)
            for t in r.targets
            for pos in range(t.first_pos, t.first_pos + len(t.tokens))
        }
    )
    column = {pos: c for c, pos in enumerate(needed)}
    kwargs: dict[str, Any] = {
        "input_ids": ids.to(device),
        "attention_mask": mask.to(device),
        "position_ids": positions.to(device),
        "use_cache": cache is not None,
    }
    if cache is not None:
        kwargs["past_key_values"] = cache
    if supports_logits_to_keep(model):
        kwargs["logits_to_keep"] = torch.tensor(needed, dtype=torch.long, device=device)
        logits = model(**kwargs).logits
    else:
        logits = model(**kwargs).logits[:, needed, :]
    logprobs = torch.log_softmax(logits.float(), dim=-1)
    # One gather and one device->host copy per batch, not one per continuation token.
    index: list[tuple[int, int, int]] = []
    spans: list[tuple[_Target, int, int]] = []
    for i, (row, st) in enumerate(zip(rows, starts)):
        for t in row.targets:
            start = len(index)
            index += [(i, column[t.first_pos + j - st], tok) for j, tok in enumerate(t.tokens)]
            spans.append((t, start, len(index)))
    rows_i, cols_i, toks_i = (torch.tensor(v, dtype=torch.long, device=device) for v in zip(*index))
    picked = logprobs[rows_i, cols_i, toks_i].double().cpu().tolist()
    for t, start, end in spans:
        out[(t.question, t.choice)] = float(sum(picked[start:end]))


def score_questions(
    model: Any,
    tokenizer: Any,
    questions: Sequence[MMLUQuestion],
    prefix: str,
    formulation: Formulation = "letter",
    batch_size: int = 8,
    reuse_prefix: bool = True,
    progress: bool = False,
    reuse_stems: bool = True,
    cascade: bool = True,
) -> list[QuestionScore]:
    """Score questions that share `prefix` (one subject's k-shot prefix); one result per question.

    `reuse_prefix` computes the prefix's KV cache once; `reuse_stems` also computes each question
    stem once for all its options (cloze), not once per option; `cascade` attends to the cached
    prefix once per batch instead of expanding it over the batch's rows.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    if not questions:
        return []
    plan = plan_rows(tokenizer, questions, prefix, formulation, reuse_prefix)
    cache_ok = _check_length(model, plan)
    two_level = reuse_stems and reuse_prefix and cache_ok and _shares_stems(plan)
    scorer = _score_rows_two_level if two_level else _score_rows
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode(), grouped_query_attention(model):
            lls = scorer(model, plan, _pad_id(tokenizer), batch_size, progress, cascade)
    finally:
        model.train(was_training)
    scores = []
    for qi, q in enumerate(questions):
        values = tuple(lls[(qi, ci)] for ci in range(4))
        acc, norm, nbytes = cloze_predictions(values, choice_texts(q, formulation))
        scores.append(
            QuestionScore(
                case_id=q.case_id,
                subject=q.subject,
                answer=q.answer,
                formulation=formulation,
                loglikelihoods=values,  # type: ignore[arg-type]
                predicted=acc,
                norm_predicted=norm if formulation == "cloze" else None,
                bytes_predicted=nbytes if formulation == "cloze" else None,
            )
        )
    return scores


def score_mmlu(
    model: Any,
    tokenizer: Any,
    mmlu_dir: str | Path,
    subjects: Iterable[str],
    split: str = "test",
    shots: int = DEFAULT_SHOTS,
    formulation: Formulation = "letter",
    limit: int | None = None,
    batch_size: int = 8,
    reuse_prefix: bool = True,
    progress: bool = False,
    reuse_stems: bool = True,
    cascade: bool = True,
) -> list[QuestionScore]:
    """Score the first `limit` questions (file order, like lm-eval's --limit) of each subject."""
    scores: list[QuestionScore] = []
    for subject in subjects:
        questions = load_split(mmlu_dir, subject, split)
        if limit is not None:
            questions = questions[:limit]
        dev = load_split(mmlu_dir, subject, "dev") if shots else []
        prefix = fewshot_prefix(subject, dev, shots, formulation)
        scores += score_questions(
            model, tokenizer, questions, prefix, formulation, batch_size, reuse_prefix, progress, reuse_stems, cascade
        )
    return scores
