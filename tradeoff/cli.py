"""`tradeoff <command> [options]`: one entry point for the project's commands besides `pytest` and `train.py`.

Each command is declared once below (module, one-line purpose) and keeps its own options; the
wrapper gives them one error and exit-code convention: a user error or an OS error is one
`error:` line and exit status 2, an interruption exit status 130, never a traceback.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence

from tradeoff.errors import UserError

# command -> (module whose main(argv) runs it, what it does)
COMMANDS: dict[str, tuple[str, str]] = {
    "precompute": (
        "tradeoff.precompute",
        "generate and score into the prediction cache without pytest (e.g. on a GPU box)",
    ),
    "prepare-spider": (
        "tradeoff.suites.spider.prepare",
        "build a Spider directory in the official layout from a release archive",
    ),
    "cache": (
        "tradeoff.inference.cache_transfer",
        "export prediction-cache rows to a file (to commit an unfinished run) or import them",
    ),
    "sweep": (
        "tradeoff.sweep",
        "evaluate several models (snapshots, λ points, experiments) on one base load, then the report",
    ),
    "export-official": (
        "tradeoff.suites.spider.export",
        "write a run's Spider cases as gold.txt and pred.txt for the official evaluator",
    ),
    "ship-adapters": (
        "tradeoff.training.ship",
        "copy trained adapters with their run records to adapters/ (committed; --model falls back to them)",
    ),
    "check-results": (
        "tradeoff.freshness",
        "say whether a committed results JSON is still what --model NAME would compute (else why not)",
    ),
    "log-results": (
        "tradeoff.tracking",
        "log results JSON files to TensorBoard, Weights & Biases or MLflow (offline by default)",
    ),
    "report": ("reports.compare", "build the comparison report from every results JSON in a results dir"),
    "crosscheck-mmlu": (
        "tradeoff.suites.mmlu.lmeval_crosscheck",
        "score MMLU questions with lm-evaluation-harness and compare",
    ),
}
USAGE = "usage: tradeoff <command> [options]   (tradeoff <command> --help for a command's options)"


def usage() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = [USAGE, "", "commands:"]
    lines += [f"  {name:<{width}}  {purpose}" for name, (_, purpose) in COMMANDS.items()]
    lines += ["", "The benchmark itself is `pytest --model NAME`; training is `python train.py --experiment NAME`."]
    return "\n".join(lines)


def guarded(run: Callable[[], int | None]) -> int:
    """The shared exit-code convention around a command's main()."""
    try:
        return int(run() or 0)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(usage())
        return 0 if args else 2
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(f"error: unknown command {name!r}: use one of {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    return guarded(lambda: module.main(rest))


if __name__ == "__main__":
    sys.exit(main())
