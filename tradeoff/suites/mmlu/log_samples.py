"""lm-evaluation-harness's per-sample output (`lm_eval --log_samples`) read as MMLU scores, so a
model evaluated elsewhere (`--model predictions:FILE`) also has its MMLU side in the report.

Files are `samples_<task>_<date>.jsonl`: task `mmlu_<subject>` is the letter formulation,
`mmlu_<subject>_continuation` the cloze one. Each line holds `doc_id` (the question's index in
the split), `doc` (the question) and `filtered_resps` ([log-likelihood, is_greedy] per option):
the same numbers this benchmark computes, from which the same predictions follow
(`cloze_predictions`). A sample whose question text is not the one at its index in the run's
split is an error, not a silent mismatch.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tradeoff.errors import UserError
from tradeoff.suites.mmlu.data import MMLUQuestion
from tradeoff.suites.mmlu.jobs import case_key
from tradeoff.suites.mmlu.prompts import Formulation, choice_texts
from tradeoff.suites.mmlu.scoring import cloze_predictions

_FILE = re.compile(r"samples_mmlu_(?P<subject>[a-z_]+?)(?P<cloze>_continuation)?_\d{4}-\d{2}-\d{2}T[\w.:-]+\.jsonl$")


def sample_files(path: Path) -> list[Path]:
    files = sorted(path.rglob("samples_mmlu_*.jsonl")) if path.is_dir() else [path]
    if not files or not all(f.is_file() for f in files):
        raise UserError(f"--mmlu-log-samples {path}: no samples_mmlu_<subject>_<date>.jsonl file there")
    return files


def read_log_samples(path: Path, questions: dict[tuple[str, int], MMLUQuestion]) -> dict[str, dict[str, Any]]:
    """{case id: cached-value shape} for every sample of the files; `questions` are the run's
    split by (subject, index), to check each sample is about the question it claims."""
    out: dict[str, dict[str, Any]] = {}
    for file in sample_files(path):
        name = _FILE.search(file.name)
        if name is None:
            raise UserError(f"{file}: not an lm-eval MMLU samples file name (samples_mmlu_<subject>_<date>.jsonl)")
        subject = name["subject"]
        formulation: Formulation = "cloze" if name["cloze"] else "letter"
        for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                sample = json.loads(line)
                index, doc = int(sample["doc_id"]), sample["doc"]
                lls = [float(resp[0]) for resp in sample["filtered_resps"]]
            except (ValueError, KeyError, TypeError, IndexError):
                raise UserError(f"{file} line {number}: not an lm-eval sample (doc_id, doc, filtered_resps)") from None
            question = questions.get((subject, index))
            if question is None:
                continue  # outside this run's selection
            if len(lls) != 4 or str(doc.get("question", "")).strip() != question.question.strip():
                raise UserError(
                    f"{file} line {number}: sample {index} is not {subject} question {index} of this split "
                    "(another split or MMLU copy? pass the matching --mmlu-split)"
                )
            acc, norm, _ = cloze_predictions(lls, choice_texts(question, formulation))
            out[case_key(question, formulation)] = {
                "loglikelihoods": lls,
                "predicted": acc,
                "norm_predicted": norm if formulation == "cloze" else None,
            }
    return out
