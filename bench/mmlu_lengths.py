"""How long MMLU questions and 5-shot prefixes are, in tokens of the embedded model's tokenizer:
a split's whole against a bench's sample (so a bench's projection can be judged).

    python bench/mmlu_lengths.py [--split val] [--sample-subjects a,b,c,d] [--sample-split test]
                                 [--sample-limit 10]

Counts the question and its options (the part that changes per question) and each subject's
dev examples (what its 5-shot prefix is made of), no chat template or answer text: a measure
of relative size, not the exact prompt length.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main(argv: list[str] | None = None) -> int:
    from tradeoff.config.experiments import load_registry
    from tradeoff.config.settings import default_mmlu_dir
    from tradeoff.models.identity import base_identity
    from tradeoff.models.loading import base_location, load_tokenizer
    from tradeoff.suites.mmlu.data import list_subjects, load_split

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mmlu-dir", type=Path, default=None)
    parser.add_argument("--split", default="val")
    parser.add_argument("--sample-subjects", default="abstract_algebra,anatomy,high_school_geography,world_religions")
    parser.add_argument("--sample-split", default="test")
    parser.add_argument("--sample-limit", type=int, default=10)
    args = parser.parse_args(argv)
    root = args.mmlu_dir or default_mmlu_dir()
    base = load_registry().base(None)
    tokenizer = load_tokenizer(base_location(base, base_identity(base)))

    def tokens(q: object) -> int:
        return len(tokenizer(q.question + " " + " ".join(q.choices)).input_ids)  # type: ignore[attr-defined]

    def measure(subjects: list[str], split: str, limit: int | None) -> tuple[int, float, float]:
        questions = prefixes = 0
        total = 0
        for subject in subjects:
            qs = load_split(root, subject, split)[:limit]
            questions += len(qs)
            total += sum(tokens(q) for q in qs)
            prefixes += sum(tokens(q) for q in load_split(root, subject, "dev"))
        return questions, total / questions, prefixes / len(subjects)

    n, per_q, per_prefix = measure(list_subjects(root, args.split), args.split, None)
    print(f"{args.split}: {n} questions, {per_q:.1f} tokens per question, {per_prefix:.0f} per subject's dev examples")
    sample = args.sample_subjects.split(",")
    n, per_q, per_prefix = measure(sample, args.sample_split, args.sample_limit)
    print(
        f"sample ({len(sample)} subjects, {args.sample_split}, {args.sample_limit} each): {n} questions, "
        f"{per_q:.1f} tokens per question, {per_prefix:.0f} per subject's dev examples"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
