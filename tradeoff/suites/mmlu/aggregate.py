"""MMLU accuracy per subject, per category and overall, as micro and macro averages.

Both are reported because they answer different questions and published MMLU numbers mix them:
micro = correct / questions (what lm-eval's `mmlu` and category groups report, weight_by_size),
macro = mean of per-subject accuracies (every subject counts the same, so the 1534-question
professional_law does not dominate). With a `--limit` per subject the two coincide.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from tradeoff.suites.mmlu.categories import CATEGORIES, category_of


@dataclass(frozen=True)
class Accuracy:
    correct: int
    total: int

    @property
    def value(self) -> float:
        return self.correct / self.total if self.total else float("nan")


@dataclass(frozen=True)
class GroupAccuracy:
    """One category (or 'overall'): micro over its questions, macro over its subjects."""

    micro: float
    macro: float
    questions: int
    subjects: int


@dataclass(frozen=True)
class MMLUSummary:
    per_subject: dict[str, Accuracy]
    per_category: dict[str, GroupAccuracy]  # only categories with at least one scored subject
    overall: GroupAccuracy

    def as_dict(self) -> dict[str, Any]:
        """Flat, JSON-ready view with explicit metric names for reports."""
        out: dict[str, Any] = {
            "overall_micro_acc": self.overall.micro,
            "overall_macro_acc": self.overall.macro,
            "questions": self.overall.questions,
            "subjects": self.overall.subjects,
        }
        for name, group in self.per_category.items():
            out[f"{name}_micro_acc"] = group.micro
            out[f"{name}_macro_acc"] = group.macro
        for subject, acc in self.per_subject.items():
            out[f"subject/{subject}_acc"] = acc.value
        return out


def per_subject_accuracy(outcomes: Iterable[tuple[str, bool]]) -> dict[str, Accuracy]:
    """(subject, correct) pairs -> Accuracy per subject, subjects sorted."""
    correct: dict[str, int] = defaultdict(int)
    total: dict[str, int] = defaultdict(int)
    for subject, ok in outcomes:
        total[subject] += 1
        correct[subject] += bool(ok)
    return {s: Accuracy(correct[s], total[s]) for s in sorted(total)}


def _group(accs: list[Accuracy]) -> GroupAccuracy:
    questions = sum(a.total for a in accs)
    return GroupAccuracy(
        micro=sum(a.correct for a in accs) / questions if questions else float("nan"),
        macro=sum(a.value for a in accs) / len(accs) if accs else float("nan"),
        questions=questions,
        subjects=len(accs),
    )


def summarize(outcomes: Iterable[tuple[str, bool]], category: Callable[[str], str] = category_of) -> MMLUSummary:
    """Aggregate (subject, correct) pairs; `category` maps a subject to its lm-eval category."""
    subjects = per_subject_accuracy(outcomes)
    by_category: dict[str, list[Accuracy]] = defaultdict(list)
    for subject, acc in subjects.items():
        by_category[category(subject)].append(acc)
    ordered = [c for c in CATEGORIES if c in by_category] + sorted(set(by_category) - set(CATEGORIES))
    return MMLUSummary(
        per_subject=subjects,
        per_category={c: _group(by_category[c]) for c in ordered},
        overall=_group(list(subjects.values())),
    )


def outcomes_from_scores(scores: Iterable[Any], metric: str = "correct") -> list[tuple[str, bool]]:
    """(subject, correct) pairs from QuestionScore objects; `metric` picks e.g. 'acc_correct'."""
    return [(s.subject, bool(getattr(s, metric))) for s in scores]
