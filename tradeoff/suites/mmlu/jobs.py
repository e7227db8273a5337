"""MMLU scoring jobs, shared by the pytest fixtures and `tradeoff.precompute`."""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

from tradeoff.inference.cache import prediction_key
from tradeoff.inference.once_per_device import Compute, Job
from tradeoff.models.loading import LoadedModel
from tradeoff.suites.mmlu.data import MMLUQuestion, load_split
from tradeoff.suites.mmlu.prompts import Formulation, continuations, fewshot_prefix, question_text

# Bump when scoring arithmetic or the key's contents change, to invalidate cached scores
# (2: the scored continuations are part of the key -- cloze questions that share a stem
# used to share one entry and inherit each other's log-likelihoods).
SCORER_VERSION = 3  # 3: cloze stems computed once for their four options


def case_key(question: MMLUQuestion, formulation: str) -> str:
    return f"{question.case_id}-{formulation}"


def mmlu_jobs(
    mmlu_dir: Path, cases: Sequence[tuple[MMLUQuestion, str]], model_key: str, shots: int
) -> tuple[list[Job], dict[tuple[str, str], str]]:
    """One job per (question, formulation), plus each subject's shared few-shot prefix."""
    prefixes: dict[tuple[str, str], str] = {}
    jobs = []
    for question, name in cases:
        formulation = cast(Formulation, name)
        group = (question.subject, formulation)
        if group not in prefixes:
            dev = load_split(mmlu_dir, question.subject, "dev") if shots else []
            prefixes[group] = fewshot_prefix(question.subject, dev, shots, formulation)
        context = prefixes[group] + question_text(question, formulation)
        # Everything a score depends on besides the model: the context and what is scored after it.
        settings = {
            "task": "mmlu",
            "formulation": formulation,
            "scorer": SCORER_VERSION,
            "continuations": list(continuations(question, formulation)),
        }
        jobs.append(
            Job(prediction_key(model_key, context, settings), case_key(question, formulation), (question, formulation))
        )
    return jobs, prefixes


def mmlu_scorer(
    load: Callable[[], LoadedModel],
    prefixes: dict[tuple[str, str], str],
    batch_size: int,
    label: str,
    stream: Any = sys.stderr,
) -> Compute:
    """The compute step of compute_once: score each subject's questions against its cached prefix."""

    def score(todo: list[Job], write: Callable[[list[tuple[Job, Any]]], None]) -> None:
        from tqdm import tqdm

        from tradeoff.suites.mmlu.scoring import score_questions

        loaded = load()
        groups: dict[tuple[str, str], list[Job]] = defaultdict(list)
        for job in todo:
            groups[(job.payload[0].subject, job.payload[1])].append(job)
        with tqdm(total=len(todo), desc=f"scoring MMLU ({label})", file=stream) as bar:
            for (subject, formulation), group in groups.items():
                scores = score_questions(
                    loaded.model,
                    loaded.tokenizer,
                    [j.payload[0] for j in group],
                    prefixes[(subject, formulation)],
                    cast(Formulation, formulation),
                    batch_size,
                )
                write(
                    [
                        (
                            job,
                            {
                                "loglikelihoods": list(s.loglikelihoods),
                                "predicted": s.predicted,
                                "norm_predicted": s.norm_predicted,
                            },
                        )
                        for job, s in zip(group, scores)
                    ]
                )
                bar.update(len(group))

    return score
