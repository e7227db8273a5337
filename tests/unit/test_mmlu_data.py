"""MMLU CSV loading: real files read in place, and one-line errors for broken ones."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tradeoff.suites.mmlu.data import (
    MMLUDataError,
    MMLUQuestion,
    data_checksum,
    list_subjects,
    load_hf_split,
    load_split,
)

from tiny_models import mmlu_data_dir

MMLU = mmlu_data_dir()


def _write(root: Path, split: str, subject: str, text: str) -> None:
    (root / split).mkdir(parents=True, exist_ok=True)
    (root / split / f"{subject}_{split}.csv").write_text(text, encoding="utf-8")


def test_real_release_has_57_subjects_with_5_dev_questions_each():
    subjects = list_subjects(MMLU)
    assert len(subjects) == 57 and subjects == sorted(subjects)
    assert list_subjects(MMLU, "dev") == subjects
    assert all(len(load_split(MMLU, s, "dev")) == 5 for s in subjects)


def test_first_abstract_algebra_question_is_parsed_verbatim():
    q = load_split(MMLU, "abstract_algebra", "test")[0]
    assert q == MMLUQuestion(
        "abstract_algebra",
        "test",
        0,
        "Find the degree for the given field extension Q(sqrt(2), sqrt(3), sqrt(18)) over Q.",
        ("0", "4", "2", "6"),
        1,
    )
    assert q.case_id == "abstract_algebra-test-0000"
    assert q.answer_letter == "B"


def test_quoted_multiline_fields_and_na_like_text_stay_strings(tmp_path):
    _write(tmp_path, "test", "toy", '"Line one\nline two, with comma",None,NA,1.0,007,D\n')
    (q,) = load_split(tmp_path, "toy", "test")
    assert q.question == "Line one\nline two, with comma"
    assert q.choices == ("None", "NA", "1.0", "007")
    assert q.answer == 3


def test_case_ids_follow_file_order():
    qs = load_split(MMLU, "anatomy", "test")
    assert [q.index for q in qs] == list(range(len(qs)))
    assert qs[7].case_id == "anatomy-test-0007"


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("q,a,b,c,A\n", "expected 6 columns"),
        ("q,a,b,c,d,e,A\n", "expected 6 columns"),
        ("q,a,b,c,d,E\n", "answer must be one of A-D"),
        ("q,a,b,c,d,\n", "answer must be one of A-D"),
        ("", "no rows"),
    ],
)
def test_malformed_rows_raise_one_line_error_naming_the_file(tmp_path, text, fragment):
    _write(tmp_path, "test", "toy", "ok,a,b,c,d,A\n" + text if text else text)
    with pytest.raises(MMLUDataError) as info:
        load_split(tmp_path, "toy", "test")
    message = str(info.value)
    assert fragment in message and "toy_test.csv" in message and "\n" not in message
    assert isinstance(info.value, ValueError)


def test_missing_folder_file_and_split_are_clear(tmp_path):
    with pytest.raises(MMLUDataError, match="MMLU folder not found"):
        load_split(tmp_path / "nope", "anatomy", "test")
    with pytest.raises(MMLUDataError, match="MMLU folder not found"):
        list_subjects(tmp_path / "nope")
    with pytest.raises(MMLUDataError, match="unknown subject 'astrology'"):
        load_split(MMLU, "astrology", "test")
    with pytest.raises(MMLUDataError, match="unknown MMLU split"):
        load_split(MMLU, "anatomy", "train")


def test_checksum_is_stable_order_free_and_sees_content(tmp_path):
    a = data_checksum(MMLU, ["anatomy", "abstract_algebra"], "dev")
    assert a == data_checksum(MMLU, ["abstract_algebra", "anatomy"], "dev")
    assert a != data_checksum(MMLU, ["abstract_algebra"], "dev")
    for subject in ("anatomy", "abstract_algebra"):
        (tmp_path / "dev").mkdir(exist_ok=True)
        shutil.copy(MMLU / "dev" / f"{subject}_dev.csv", tmp_path / "dev")
    assert data_checksum(tmp_path, ["anatomy", "abstract_algebra"], "dev") == a
    with open(tmp_path / "dev" / "anatomy_dev.csv", "a", encoding="utf-8") as fh:
        fh.write("extra,a,b,c,d,A\n")
    assert data_checksum(tmp_path, ["anatomy", "abstract_algebra"], "dev") != a
    with pytest.raises(MMLUDataError):
        data_checksum(tmp_path, ["virology"], "dev")


def test_hub_loader_fails_with_a_clear_error_when_offline():
    with pytest.raises(MMLUDataError, match="cannot load cais/mmlu/anatomy split test from the hub"):
        load_hf_split("anatomy", "test")
