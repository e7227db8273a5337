"""Throughput of our MMLU scorer (prefix KV reuse, and without it) against lm-eval, same run.

All three score the same questions with the same model object; the script also checks that
their predictions are identical, so a speed-up can never come from scoring something else.
Goal: prefix reuse >= 2x lm-eval's questions/s. Exit status 1 if under 99% of predictions agree.
The contenders run interleaved over --rounds rounds (bench/timing.py): medians, min-max and the
load average are reported, and --json writes the figures.

    python bench/bench_mmlu_scoring.py --model embedded \\
        --subjects abstract_algebra,anatomy,high_school_geography,world_religions --limit 20
    python bench/bench_mmlu_scoring.py --subjects spread:8 --split val --limit 0 --no-lmeval

`--subjects spread:N` takes every (57/N)-th subject in alphabetical order: a spread of question
and prefix lengths, where four hand-picked short subjects projected half the real time.
`--no-lmeval` leaves lm-eval's HFLM out (it is the slowest contender; predictions are then
compared against our expanded-prefix scorer, which the tests compare against lm-eval's arithmetic).

`--random-weights` builds the model from PATH's config.json with random weights (throughput
does not depend on the weights), so a Mistral-7B-shaped model can be timed on a GPU machine
that has its config and tokenizer but no checkpoint.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from bench.timing import describe, interleaved, load_average, write_figures  # noqa: E402
from tradeoff.suites.mmlu.lmeval_crosscheck import (  # noqa: E402
    MIN_IDENTICAL_RATE,
    compare,
    default_mmlu_dir,
    load_model,
    run_lmeval,
)
from tradeoff.suites.mmlu.prompts import DEFAULT_SHOTS, FORMULATIONS  # noqa: E402
from tradeoff.suites.mmlu.scoring import QuestionScore, score_mmlu  # noqa: E402

GOAL_SPEEDUP = 2.0


def _timed_ours(
    args: argparse.Namespace, model, tokenizer, subjects, reuse: bool, stems: bool = True, cascade: bool = True
) -> tuple[list[QuestionScore], float]:
    start = time.perf_counter()
    scores = score_mmlu(
        model,
        tokenizer,
        args.mmlu_dir,
        subjects,
        args.split,
        args.shots,
        args.formulation,
        args.limit,
        args.batch_size,
        reuse_prefix=reuse,
        reuse_stems=stems,
        cascade=cascade,
    )
    return scores, time.perf_counter() - start


def _top2_gap(lls: Sequence[float]) -> float:
    top = sorted(lls, reverse=True)
    return top[0] - top[1]


def _load(args: argparse.Namespace):
    dtype = getattr(torch, args.dtype)
    if not args.random_weights:
        model, tokenizer = load_model(args.model, args.dtype)
        return model.to(args.device), tokenizer
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    with torch.device(args.device):
        model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(args.model), dtype=dtype)
    return model.eval(), AutoTokenizer.from_pretrained(args.model)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mmlu-dir", default=default_mmlu_dir())
    p.add_argument("--subjects", default="abstract_algebra,anatomy,high_school_geography,world_religions")
    p.add_argument("--split", default="test")
    p.add_argument("--limit", type=int, default=20, help="first N questions per subject (0 = all)")
    p.add_argument("--shots", type=int, default=DEFAULT_SHOTS)
    p.add_argument("--model", default="embedded", help="'embedded' (SmolLM2-135M GGUF) or a checkpoint folder")
    p.add_argument("--formulation", default="letter", choices=list(FORMULATIONS))
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", default="float32")
    p.add_argument("--random-weights", action="store_true", help="random weights from --model's config.json")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds (A B C A B C ...); medians reported")
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (default 1: beside another job, 2 threads on 2 cores made small operations "
        "5-18x slower than 1 in the issue's measurements; set it to the idle cores you have)",
    )
    p.add_argument("--no-lmeval", action="store_true", help="leave lm-eval's HFLM out")
    p.add_argument("--json", type=Path, default=None, help="also write the figures here as JSON")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    args.limit = args.limit or None
    subjects = spread(args.subjects)

    model, tokenizer = _load(args)
    # Warm-up so no contestant pays first-call allocation costs.
    score_mmlu(model, tokenizer, args.mmlu_dir, subjects[:1], args.split, args.shots, args.formulation, 2, 2)

    before = load_average()
    contenders: dict[str, Callable[[], Any]] = {
        "ours (prefix reuse)": lambda: _timed_ours(args, model, tokenizer, subjects, reuse=True)[0],
        "ours (expanded prefix)": lambda: _timed_ours(args, model, tokenizer, subjects, reuse=True, cascade=False)[0],
        "ours (no reuse)": lambda: _timed_ours(args, model, tokenizer, subjects, reuse=False)[0],
    }
    if args.formulation == "cloze":  # the two-level cache: each stem once for its four options
        contenders["ours (prefix, no stems)"] = lambda: _timed_ours(
            args, model, tokenizer, subjects, reuse=True, stems=False
        )[0]
    reference = "ours (expanded prefix)" if args.no_lmeval else "lm-eval HFLM"
    if not args.no_lmeval:
        contenders["lm-eval HFLM"] = lambda: run_lmeval(
            model,
            tokenizer,
            args.mmlu_dir,
            subjects,
            args.split,
            args.limit,
            args.shots,
            args.formulation,
            args.batch_size,
        )
    timings, results = interleaved(contenders, args.rounds)
    after = load_average()
    reuse = results["ours (prefix reuse)"]
    lm = results[reference] if not args.no_lmeval else _as_lmeval(results[reference])
    t_reuse = timings["ours (prefix reuse)"].median
    lm_seconds = timings[reference].median
    n = len(reuse)

    where = torch.cuda.get_device_name() if args.device.startswith("cuda") else f"cpu threads={torch.get_num_threads()}"
    print(f"machine  {platform.machine()} {where} torch={torch.__version__}")
    print(
        f"setup    model={args.model}{' (random weights)' if args.random_weights else ''} dtype={args.dtype} "
        f"subjects={len(subjects)} questions={n} shots={args.shots} formulation={args.formulation} "
        f"batch={args.batch_size}"
    )
    print(
        f"{'scorer':<24}{'median s':>9}{'q/s':>9}{'vs ' + reference[:9]:>12}{'identical':>12}{'max|dll|':>10}"
        f"{'worst flip margin':>19}"
    )
    ok = True
    rows = [(name, results[name], timings[name].median) for name in contenders if name != reference]
    for name, scores, seconds in (*rows, (reference, None, lm_seconds)):
        same, diff, margin = f"{n}/{n}", "", ""
        if scores is not None:
            identical, worst, mismatched = compare(scores, lm.cases)
            ok &= identical >= MIN_IDENTICAL_RATE * n
            same, diff = f"{identical}/{n}", f"{worst:.2g}"
            # How close lm-eval's own top two choices were where we disagree: a float-noise flip
            # has a margin near the log-likelihood noise, a scoring bug does not.
            gaps = [_top2_gap(lm.cases[c].loglikelihoods) for c in mismatched if c in lm.cases]
            margin = f"{max(gaps, default=0.0):.2g}"
        print(
            f"{name:<24}{seconds:>9.2f}{n / seconds:>9.2f}{lm_seconds / seconds:>11.2f}x{same:>12}{diff:>10}"
            f"{margin:>19}"
        )
    speedup = lm_seconds / t_reuse
    for line in describe(timings, reference, before, after):
        print(line)
    figures = {
        "subjects": subjects,
        "split": args.split,
        "formulation": args.formulation,
        "questions": n,
        "threads": args.threads,
        "batch_size": args.batch_size,
        "reference": reference,
        "speedup_median": speedup,
        "cascade_speedup_median": timings["ours (expanded prefix)"].median / t_reuse,
        "load_before": before,
        "load_after": after,
    }
    write_figures(args.json, figures, timings)
    if not args.no_lmeval:
        print(
            f"goal     prefix reuse >= {GOAL_SPEEDUP:.0f}x lm-eval: {'met' if speedup >= GOAL_SPEEDUP else 'NOT met'} "
            f"({speedup:.2f}x)"
        )
    print(f"cascade  {figures['cascade_speedup_median']:.2f}x the expanded prefix's speed")
    return 0 if ok else 1


def spread(subjects: str) -> list[str]:
    """A comma-separated list, or `spread:N`: N subjects evenly spaced in alphabetical order."""
    if not subjects.startswith("spread:"):
        return subjects.split(",")
    from tradeoff.suites.mmlu.categories import SUBJECTS

    n = int(subjects.split(":", 1)[1])
    if not 1 <= n <= len(SUBJECTS):
        raise SystemExit(f"error: --subjects spread:N needs 1 <= N <= {len(SUBJECTS)}")
    return [SUBJECTS[(i * len(SUBJECTS)) // n] for i in range(n)]


def _as_lmeval(scores: list[QuestionScore]):
    """Our scores in the shape compare() reads lm-eval's run in (cases by id)."""
    from types import SimpleNamespace

    from tradeoff.suites.mmlu.lmeval_crosscheck import LmevalCase

    cases = {
        s.case_id: LmevalCase(s.case_id, s.loglikelihoods, s.headline_predicted, s.predicted, s.correct, s.answer)
        for s in scores
    }
    return SimpleNamespace(cases=cases)


if __name__ == "__main__":
    sys.exit(main())
