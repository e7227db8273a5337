"""Where a running process's time goes, from a py-spy sample of it (no restart, ~1% overhead):

    pip install py-spy    # not a dependency of the project
    py-spy record --pid PID --rate 20 --duration 90 --native --format raw --output prof.txt
    python bench/profile_summary.py prof.txt [--within score_questions]

prints the share of samples whose stack holds each frame (inclusive), the frames where samples
end (exclusive) and, for the question a profile is for, a few named groups: matrix multiplies
(MKL/oneDNN sgemm and their packing copies), attention kernels, elementwise ops, dropout's
random masks, the autograd engine. A sample of a live run measures the real job, where a bench only
measures what it chose to time.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

GROUPS = {
    "matrix multiplies (sgemm, with its packing)": r"sgemm|gemm_kernel|dnnl.*gemm",
    "attention kernels": r"flash_attention|scaled_dot_product",
    "elementwise ops (TensorIterator)": r"TensorIteratorBase",
    "dropout masks (bernoulli)": r"bernoulli|random64",
    "log-softmax": r"log_softmax",
    "the autograd engine (backward)": r"Engine::execute",
}


def read(path: Path) -> list[tuple[list[str], int]]:
    """py-spy's raw format: one line per distinct stack, `frame;frame;... count`."""
    stacks = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks.append(([f.split(" (")[0] for f in stack.split(";")], int(count)))
    return stacks


def within(stacks: list[tuple[list[str], int]], frame: str) -> list[tuple[list[str], int]]:
    """The samples whose stack holds a frame matching `frame` (a regex): a worker's computing
    thread alone, not the threads that wait beside it (py-spy samples every thread)."""
    return [(frames, n) for frames, n in stacks if any(re.search(frame, f) for f in frames)]


def summarise(stacks: list[tuple[list[str], int]], top: int) -> list[str]:
    total = sum(n for _, n in stacks)
    if not total:
        raise SystemExit("no samples in the profile")
    inclusive: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    groups: Counter[str] = Counter()
    for frames, n in stacks:
        for frame in set(frames):
            inclusive[frame] += n
        leaves[frames[-1]] += n
        joined = ";".join(frames)
        for group, pattern in GROUPS.items():
            if re.search(pattern, joined):
                groups[group] += n
    lines = [f"{total} samples", "groups (a sample can be in more than one):"]
    lines += [f"  {groups[g] / total:6.1%}  {g}" for g in GROUPS]
    lines.append("inclusive:")
    lines += [f"  {n / total:6.1%}  {f[:110]}" for f, n in inclusive.most_common(top)]
    lines.append("exclusive (where samples end):")
    lines += [f"  {n / total:6.1%}  {f[:110]}" for f, n in leaves.most_common(top)]
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("profile", type=Path, help="py-spy record --format raw output")
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--within", default=None, help="only samples with a frame matching this regex, e.g. score_questions")
    args = p.parse_args(argv)
    stacks = read(args.profile)
    print("\n".join(summarise(within(stacks, args.within) if args.within else stacks, args.top)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
