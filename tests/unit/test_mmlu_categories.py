"""The subject -> category table must be lm-eval's, and cover the data."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from tradeoff.suites.mmlu.categories import CATEGORIES, SUBJECT_CATEGORY, category_of, subjects_in
from tradeoff.suites.mmlu.data import list_subjects

from tiny_models import mmlu_data_dir


def _installed_lmeval_categories() -> dict[str, str]:
    origin = importlib.util.find_spec("lm_eval").origin
    folder = Path(origin).parent / "tasks" / "mmlu" / "default"
    table = {}
    for path in sorted(folder.glob("mmlu_*.yaml")):
        text = path.read_text()
        subject = re.search(r'"dataset_name": "(\w+)"', text).group(1)
        table[subject] = re.search(r'"tag": "mmlu_(\w+)_tasks"', text).group(1)
    return table


def test_table_equals_installed_lmeval_yaml_files():
    assert SUBJECT_CATEGORY == _installed_lmeval_categories()


def test_every_subject_in_the_data_has_a_category():
    assert sorted(SUBJECT_CATEGORY) == list_subjects(mmlu_data_dir())
    assert set(SUBJECT_CATEGORY.values()) == set(CATEGORIES)


def test_category_sizes_match_lm_eval_groups():
    assert {c: len(subjects_in(c)) for c in CATEGORIES} == {
        "stem": 19,
        "humanities": 13,
        "social_sciences": 12,
        "other": 13,
    }


def test_unknown_subject_or_category_is_an_error():
    assert category_of("virology") == "other"
    with pytest.raises(KeyError, match="unknown MMLU subject"):
        category_of("astrology")
    with pytest.raises(KeyError, match="unknown MMLU category"):
        subjects_in("arts")
