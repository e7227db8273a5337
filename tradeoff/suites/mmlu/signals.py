"""Per-question continuous signals of MMLU, recorded beside each verdict so a comparison can pair
them question by question (reports/comparison/forgetting.py)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def gold_logprob(loglikelihoods: Sequence[float], answer: int, formulation: str, choices: Sequence[str]) -> float:
    """The continuous signal behind the verdict, which moves before accuracy does: letter, the
    gold letter's log-probability normalised over A-D (log-softmax of the four); cloze, the gold
    option's log-likelihood per character (what acc_norm ranks by)."""
    if formulation == "letter":
        top = max(loglikelihoods)
        return float(loglikelihoods[answer] - top - math.log(sum(math.exp(v - top) for v in loglikelihoods)))
    return float(loglikelihoods[answer] / max(len(choices[answer]), 1))
