"""MMLU questions read in place from the original CSV release (or, with a hub, from `cais/mmlu`).

The original release is `{dev,val,test}/<subject>_<split>.csv` with no header and rows
`question,A,B,C,D,answer-letter`. Rows are kept in file order because lm-eval's `first_n`
few-shot sampler and `--limit` both depend on it. Every problem with the files is raised as a
one-line `MMLUDataError` so a run fails on bad data instead of scoring it.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

LETTERS: tuple[str, str, str, str] = ("A", "B", "C", "D")
SPLITS: tuple[str, ...] = ("dev", "val", "test")
# Split names of the hub copy `cais/mmlu` for our split names.
_HF_SPLITS = {"dev": "dev", "val": "validation", "test": "test"}


class MMLUDataError(ValueError):
    """The MMLU data is missing or malformed (message is one line, names the file)."""


@dataclass(frozen=True)
class MMLUQuestion:
    """One MMLU row; `index` is its 0-based position in the split file (lm-eval's doc_id)."""

    subject: str
    split: str
    index: int
    question: str
    choices: tuple[str, str, str, str]
    answer: int

    @property
    def case_id(self) -> str:
        """Stable id used in reports and caches, e.g. `abstract_algebra-test-0007`."""
        return f"{self.subject}-{self.split}-{self.index:04d}"

    @property
    def answer_letter(self) -> str:
        return LETTERS[self.answer]


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise MMLUDataError(f"unknown MMLU split {split!r}; expected one of {', '.join(SPLITS)}")


def split_path(mmlu_dir: str | Path, subject: str, split: str) -> Path:
    """Path of one subject's CSV for a split (the file need not exist)."""
    _check_split(split)
    return Path(mmlu_dir) / split / f"{subject}_{split}.csv"


def list_subjects(mmlu_dir: str | Path, split: str = "test") -> list[str]:
    """Sorted subjects that have a CSV for `split` under `mmlu_dir`."""
    _check_split(split)
    folder = Path(mmlu_dir) / split
    if not folder.is_dir():
        raise MMLUDataError(f"MMLU folder not found: {folder} (set MMLU_DIR to the folder holding dev/ val/ test/)")
    suffix = f"_{split}.csv"
    subjects = sorted(p.name[: -len(suffix)] for p in folder.iterdir() if p.name.endswith(suffix))
    if not subjects:
        raise MMLUDataError(f"no *{suffix} files in {folder}")
    return subjects


def _parse_row(row: list[str], path: Path, subject: str, split: str, index: int) -> MMLUQuestion:
    where = f"{path}: row {index + 1}"
    if len(row) != 6:
        raise MMLUDataError(f"{where}: expected 6 columns (question,A,B,C,D,answer), got {len(row)}")
    letter = row[5].strip()
    if letter not in LETTERS:
        raise MMLUDataError(f"{where}: answer must be one of A-D, got {row[5]!r}")
    return MMLUQuestion(
        subject=subject,
        split=split,
        index=index,
        question=row[0],
        choices=(row[1], row[2], row[3], row[4]),
        answer=LETTERS.index(letter),
    )


def load_split(mmlu_dir: str | Path, subject: str, split: str) -> list[MMLUQuestion]:
    """All questions of one subject and split, in file order."""
    path = split_path(mmlu_dir, subject, split)
    if not Path(mmlu_dir).is_dir():
        raise MMLUDataError(f"MMLU folder not found: {mmlu_dir} (set MMLU_DIR to the folder holding dev/ val/ test/)")
    if not path.is_file():
        raise MMLUDataError(f"MMLU file not found: {path} (unknown subject {subject!r}?)")
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise MMLUDataError(f"{path}: unreadable CSV ({exc})".replace("\n", " ")) from exc
    if not rows:
        raise MMLUDataError(f"{path}: no rows")
    return [_parse_row(row, path, subject, split, i) for i, row in enumerate(rows)]


def data_checksum(mmlu_dir: str | Path, subjects: Iterable[str], split: str) -> str:
    """sha256 over the raw bytes of the named subjects' files, so reports can pin the exact data."""
    digest = hashlib.sha256()
    for subject in sorted(set(subjects)):
        path = split_path(mmlu_dir, subject, split)
        if not path.is_file():
            raise MMLUDataError(f"MMLU file not found: {path}")
        digest.update(f"{subject}/{split}\0".encode())
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def load_hf_split(subject: str, split: str, dataset: str = "cais/mmlu") -> list[MMLUQuestion]:
    """The same questions from the hub copy; needs network (or a warm HF cache).

    Kept for machines that have no CSV release; `load_split` is the path the benchmark uses.
    """
    _check_split(split)
    try:
        import datasets

        rows = datasets.load_dataset(dataset, subject, split=_HF_SPLITS[split])
    except Exception as exc:  # offline, unknown subject, hub error: all end the run the same way
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise MMLUDataError(
            f"cannot load {dataset}/{subject} split {split} from the hub ({type(exc).__name__}: {first_line}); "
            "use the CSV release via MMLU_DIR instead"
        ) from exc
    questions = []
    for i, row in enumerate(rows):
        choices = tuple(row["choices"])
        if len(choices) != 4 or row["answer"] not in range(4):
            raise MMLUDataError(f"{dataset}/{subject} {split} row {i + 1}: malformed choices/answer")
        questions.append(
            MMLUQuestion(subject, split, i, row["question"], choices, int(row["answer"]))  # type: ignore[arg-type]
        )
    return questions
