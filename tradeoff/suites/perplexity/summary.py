"""Perplexity's results block: token-weighted perplexity, word perplexity and bits per byte
(lm-eval's wikitext metrics), overall and per MMLU category, each with a percentile bootstrap
interval that resamples whole texts."""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import numpy as np

from tradeoff.records import CaseRecord
from tradeoff.statistics import LEVEL, RESAMPLES, SEED


def _metrics(ll: np.ndarray, tokens: np.ndarray, words: np.ndarray, nbytes: np.ndarray) -> dict[str, float]:
    return {
        "token_perplexity": math.exp(-ll.sum() / tokens.sum()),
        "word_perplexity": math.exp(-ll.sum() / words.sum()),
        "bits_per_byte": float(-ll.sum() / nbytes.sum() / math.log(2)),
        "nll_per_token": float(-ll.sum() / tokens.sum()),
    }


def block(records: list[CaseRecord], resamples: int = RESAMPLES, seed: int = SEED) -> dict[str, Any]:
    """Aggregate metrics of the texts that have a finite score, with bootstrap intervals."""
    done = [r for r in records if r.outcome == "passed"]
    out: dict[str, Any] = {
        "scored": len(done),
        "not_finite": sum(r.outcome == "failed" for r in records),
        "tokens": sum(int(r.props["tokens"]) for r in done),
    }
    if not done:
        return out
    cols = {k: np.array([float(r.props[k]) for r in done]) for k in ("loglikelihood", "tokens", "words", "bytes")}
    point = _metrics(cols["loglikelihood"], cols["tokens"], cols["words"], cols["bytes"])
    draws = np.random.default_rng(seed).integers(0, len(done), size=(resamples, len(done)))
    sampled = {k: v[draws].sum(axis=1) for k, v in cols.items()}
    tail = (1 - LEVEL) / 2 * 100
    for name in point:
        if name == "token_perplexity":
            values = np.exp(-sampled["loglikelihood"] / sampled["tokens"])
        elif name == "word_perplexity":
            values = np.exp(-sampled["loglikelihood"] / sampled["words"])
        elif name == "bits_per_byte":
            values = -sampled["loglikelihood"] / sampled["bytes"] / math.log(2)
        else:
            values = -sampled["loglikelihood"] / sampled["tokens"]
        out[name] = point[name]
        out[f"{name}_ci95"] = [float(np.percentile(values, tail)), float(np.percentile(values, 100 - tail))]
    return out


def summarize(records: list[CaseRecord]) -> dict[str, Any]:
    by_category: dict[str, list[CaseRecord]] = defaultdict(list)
    for r in records:
        by_category[str(r.props.get("category", "unknown"))].append(r)
    return {
        "collected": len(records),
        "overall": block(records),
        "by_category": {c: block(rs) for c, rs in sorted(by_category.items())},
        "errors": sum(r.outcome == "error" for r in records),
        "skipped": sum(r.outcome == "skipped" for r in records),
    }


def format_summary(label: str, summary: dict[str, Any], split: str) -> list[str]:
    o = summary["overall"]
    if not o["scored"]:
        return [f"Perplexity (MMLU {split} texts) — model {label}: no text scored"]
    lo, hi = o["token_perplexity_ci95"]
    lines = [
        f"Perplexity (MMLU {split} questions with answers as text) — model {label}: "
        f"{o['token_perplexity']:.3f} per token (95% CI {lo:.3f}–{hi:.3f}) over {o['scored']} texts, "
        f"{o['tokens']} tokens; {o['bits_per_byte']:.4f} bits/byte; word perplexity {o['word_perplexity']:.2f}"
    ]
    for name, b in summary["by_category"].items():
        if b["scored"]:
            lines.append(f"  {name:<16} {b['token_perplexity']:8.3f} per token  ({b['scored']} texts)")
    if o["not_finite"]:
        lines.append(f"  texts without a finite log-likelihood: {o['not_finite']}")
    return lines
