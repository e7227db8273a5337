"""MMLU prompts exactly as lm-eval 0.4.13 builds them, so our numbers are comparable to its.

Two formulations, each copied from an installed task family (a unit test renders lm-eval's own
task over the same CSVs and compares the strings):

* "letter" = `mmlu` (lm_eval/tasks/mmlu/default): options listed A-D, scored continuations
  " A" .. " D". This is the standard MMLU number.
* "cloze" = `mmlu_continuation` (lm_eval/tasks/mmlu/continuation): options not shown, each
  option text scored as the continuation; lm-eval reports acc and acc_norm.

prompt = fewshot_prefix(subject, dev, k) + question_text(q). The prefix is shared by every
question of a subject, which is what lets the scorer cache it. The reference study's
generate-and-regex scoring is deliberately not reproduced.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from tradeoff.suites.mmlu.data import LETTERS, MMLUQuestion

Formulation = Literal["letter", "cloze"]
FORMULATIONS: tuple[str, ...] = ("letter", "cloze")
DEFAULT_SHOTS = 5
# lm-eval's TaskConfig defaults, unchanged by the mmlu yaml files.
TARGET_DELIMITER = " "
FEWSHOT_DELIMITER = "\n\n"


def _check(formulation: str) -> None:
    if formulation not in FORMULATIONS:
        raise ValueError(f"unknown MMLU formulation {formulation!r}; expected one of {', '.join(FORMULATIONS)}")


def description(subject: str, formulation: Formulation = "letter") -> str:
    """The task description lm-eval puts before the shots (ends with the few-shot delimiter)."""
    _check(formulation)
    kind = "multiple choice questions" if formulation == "letter" else "questions"
    return f"The following are {kind} (with answers) about {subject.replace('_', ' ')}.{FEWSHOT_DELIMITER}"


def question_text(q: MMLUQuestion, formulation: Formulation = "letter") -> str:
    """The question as lm-eval's doc_to_text renders it, ending in 'Answer:' (no trailing space)."""
    _check(formulation)
    if formulation == "cloze":
        return f"Question: {q.question.strip()}\nAnswer:"
    options = "".join(f"\n{letter}. {choice}" for letter, choice in zip(LETTERS, q.choices))
    return f"{q.question.strip()}{options}\nAnswer:"


def choice_texts(q: MMLUQuestion, formulation: Formulation = "letter") -> tuple[str, ...]:
    """What is scored for each option, without the delimiter (lm-eval's doc_to_choice)."""
    _check(formulation)
    return LETTERS if formulation == "letter" else q.choices


def continuations(q: MMLUQuestion, formulation: Formulation = "letter") -> tuple[str, ...]:
    """The four continuation strings whose log-likelihoods decide the answer."""
    return tuple(TARGET_DELIMITER + c for c in choice_texts(q, formulation))


def fewshot_prefix(
    subject: str, dev_questions: Sequence[MMLUQuestion], k: int = DEFAULT_SHOTS, formulation: Formulation = "letter"
) -> str:
    """Description plus the first `k` dev questions with their answers (lm-eval's `first_n` sampler)."""
    _check(formulation)
    if k < 0:
        raise ValueError(f"number of shots must be >= 0, got {k}")
    if k > len(dev_questions):
        raise ValueError(f"{k}-shot prompt asked for {subject!r} but only {len(dev_questions)} dev questions exist")
    shots = list(dev_questions[:k])
    for shot in shots:
        if shot.subject != subject:
            raise ValueError(f"few-shot example {shot.case_id} is not from subject {subject!r}")
    parts = [description(subject, formulation)]
    for shot in shots:
        answer = choice_texts(shot, formulation)[shot.answer]
        parts.append(question_text(shot, formulation) + TARGET_DELIMITER + answer + FEWSHOT_DELIMITER)
    return "".join(parts)


def full_prompt(
    q: MMLUQuestion, dev_questions: Sequence[MMLUQuestion], k: int = DEFAULT_SHOTS, formulation: Formulation = "letter"
) -> str:
    """Convenience for logs and tests: the whole context scored for `q`."""
    return fewshot_prefix(q.subject, dev_questions, k, formulation) + question_text(q, formulation)
