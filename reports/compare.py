"""The trade-off report across every model's results: `python -m reports.compare` or `build_report`.

Reads `<results-dir>/results/*.json`, compares each fine-tuned model with the base-model run of
the same base weights, and writes `<out>/report/index.html` (self-contained) and
`<out>/report/summary.md`. Cheap enough to rerun after every benchmark run.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from reports.comparison import build as comparison
from reports.comparison import plots, render_html, render_markdown
from tradeoff.errors import os_error_text
from tradeoff.files import write_text_atomic
from tradeoff.statistics import RESAMPLES, SEED


def build_report(
    results_dir: Path | str,
    out_dir: Path | str | None = None,
    *,
    base_label: str = "base",
    training_dir: Path | str | None = None,
    formulation: str | None = None,
    resamples: int = RESAMPLES,
    seed: int = SEED,
    against: str | None = None,
) -> Path:
    """Write the comparison report and return the path of its index.html.

    `results_dir` is the benchmark's output dir (holding results/); `out_dir` defaults to it.
    `training_dir` defaults to the models dir, where training runs leave run.json and loss.json.
    Raises FileNotFoundError when there is no results file at all.
    """
    from tradeoff.config import settings

    results_dir = Path(results_dir)
    out_dir = Path(out_dir) if out_dir is not None else results_dir
    training = Path(training_dir) if training_dir is not None else settings.models_dir()
    report = comparison.build(
        results_dir,
        base_label=base_label,
        training_dir=training,
        formulation=formulation,
        resamples=resamples,
        seed=seed,
        against=against,
    )
    figures = plots.figures(report)
    target = out_dir / "report"
    write_text_atomic(target / "summary.md", render_markdown.render(report))
    index = target / "index.html"
    write_text_atomic(index, render_html.render(report, figures))
    return index


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    from tradeoff.config import settings

    parser = argparse.ArgumentParser(prog="python -m reports.compare", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--results-dir",
        type=Path,
        default=None,
        help=f"benchmark output dir holding results/*.json (default: ${settings.ENV_OUTPUT_DIR} or <repo>/out)",
    )
    parser.add_argument("--out", type=Path, default=None, help="where report/ is written (default: the results dir)")
    parser.add_argument("--base-label", default="base", help="preferred base-model results label (default: base)")
    parser.add_argument(
        "--training-dir",
        type=Path,
        default=None,
        help=f"training runs with run.json/loss.json (default: ${settings.ENV_MODELS_DIR} or <repo>/models)",
    )
    parser.add_argument(
        "--mmlu-formulation", default=None, help="MMLU formulation of the trade-off plot (default: letter)"
    )
    parser.add_argument(
        "--resamples",
        type=_positive_int,
        default=RESAMPLES,
        help=f"bootstrap resamples for macro averages (default: {RESAMPLES})",
    )
    parser.add_argument("--seed", type=int, default=SEED, help=f"bootstrap seed (default: {SEED})")
    parser.add_argument(
        "--against",
        default=None,
        metavar="LABEL",
        help="compare every fine-tuned model with this base run, whatever its prompt (the reference "
        "study's comparison: 0-shot adapters vs the 4-shot base); default: the base on the same prompt",
    )
    args = parser.parse_args(argv)
    results_dir = args.results_dir or settings.output_dir()
    # a skipped results file is one `warning:` line, not a warning plus its source line
    warnings.formatwarning = lambda message, *_args, **_kwargs: f"warning: {message}\n"
    try:
        index = build_report(
            results_dir,
            args.out,
            base_label=args.base_label,
            training_dir=args.training_dir,
            formulation=args.mmlu_formulation,
            resamples=args.resamples,
            seed=args.seed,
            against=args.against,
        )
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # the report folder cannot be written (read-only, under a file, disk full)
        print(f"error: cannot write the report under {args.out or results_dir}: {os_error_text(exc)}", file=sys.stderr)
        return 2
    print(f"HTML report: {index.resolve()}")
    print(f"Markdown summary: {index.with_name('summary.md').resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
