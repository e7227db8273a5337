"""The 57 MMLU subjects and the category lm-eval 0.4.13 files each under.

Copied from the `tag: mmlu_<category>_tasks` lines of lm_eval/tasks/mmlu/default/*.yaml, so our
per-category numbers are the ones lm-eval's `mmlu_stem` ... groups report (a unit test re-reads
the installed yaml files to keep this table honest).
"""

from __future__ import annotations

CATEGORIES: tuple[str, ...] = ("stem", "humanities", "social_sciences", "other")

SUBJECT_CATEGORY: dict[str, str] = {
    "abstract_algebra": "stem",
    "anatomy": "stem",
    "astronomy": "stem",
    "business_ethics": "other",
    "clinical_knowledge": "other",
    "college_biology": "stem",
    "college_chemistry": "stem",
    "college_computer_science": "stem",
    "college_mathematics": "stem",
    "college_medicine": "other",
    "college_physics": "stem",
    "computer_security": "stem",
    "conceptual_physics": "stem",
    "econometrics": "social_sciences",
    "electrical_engineering": "stem",
    "elementary_mathematics": "stem",
    "formal_logic": "humanities",
    "global_facts": "other",
    "high_school_biology": "stem",
    "high_school_chemistry": "stem",
    "high_school_computer_science": "stem",
    "high_school_european_history": "humanities",
    "high_school_geography": "social_sciences",
    "high_school_government_and_politics": "social_sciences",
    "high_school_macroeconomics": "social_sciences",
    "high_school_mathematics": "stem",
    "high_school_microeconomics": "social_sciences",
    "high_school_physics": "stem",
    "high_school_psychology": "social_sciences",
    "high_school_statistics": "stem",
    "high_school_us_history": "humanities",
    "high_school_world_history": "humanities",
    "human_aging": "other",
    "human_sexuality": "social_sciences",
    "international_law": "humanities",
    "jurisprudence": "humanities",
    "logical_fallacies": "humanities",
    "machine_learning": "stem",
    "management": "other",
    "marketing": "other",
    "medical_genetics": "other",
    "miscellaneous": "other",
    "moral_disputes": "humanities",
    "moral_scenarios": "humanities",
    "nutrition": "other",
    "philosophy": "humanities",
    "prehistory": "humanities",
    "professional_accounting": "other",
    "professional_law": "humanities",
    "professional_medicine": "other",
    "professional_psychology": "social_sciences",
    "public_relations": "social_sciences",
    "security_studies": "social_sciences",
    "sociology": "social_sciences",
    "us_foreign_policy": "social_sciences",
    "virology": "other",
    "world_religions": "humanities",
}

SUBJECTS: tuple[str, ...] = tuple(sorted(SUBJECT_CATEGORY))


def category_of(subject: str) -> str:
    """lm-eval's category for a subject; unknown subjects are an error, not 'other'."""
    try:
        return SUBJECT_CATEGORY[subject]
    except KeyError:
        raise KeyError(f"unknown MMLU subject {subject!r} (not one of the 57 lm-eval subjects)") from None


def subjects_in(category: str) -> list[str]:
    if category not in CATEGORIES:
        raise KeyError(f"unknown MMLU category {category!r}; expected one of {', '.join(CATEGORIES)}")
    return [s for s in SUBJECTS if SUBJECT_CATEGORY[s] == category]
