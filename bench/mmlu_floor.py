"""The least time MMLU scoring can take on this machine: the matrix multiplies the scorer must
run over a split, at the best rate this CPU multiplies matrices of the model's shapes.

Why: the issue's goal (the val split, letter + cloze, <= 10 min per model) is either an
engineering gap or beyond the hardware, and only counting says which. The work is counted from
the real scorer (`score_mmlu`, every reuse on) run over the split with a shape-only stand-in of
the model: the same tokenizer, vocabulary and context length, one layer of width 64, so every
forward pass has the shape the real model's would (rows x positions, LM-head positions) at a
fraction of the cost. Each forward's positions are then priced at the real model's linear
layers (2 FLOPs per weight per position; the LM head only where logits are kept) and divided
by the GEMM rate measured with those layers' shapes. Attention, norms, softmax and Python are
left out, so the result is a lower bound: the scorer cannot be faster than it on these cores
with these weights.

    python bench/mmlu_floor.py --split val --json docs/bench/mmlu-floor.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from bench.timing import load_average, machine  # noqa: E402

GOAL_S = 600.0  # the goal: both formulations of the val split in 10 minutes


@dataclass
class Work:
    """What the scorer's forward passes computed: padded positions (rows x width, what the
    matrix multiplies run over), fed positions (unpadded), and positions where the LM head ran."""

    forwards: int = 0
    positions: int = 0
    fed: int = 0
    head_positions: int = 0
    shapes: list[tuple[int, int]] = field(default_factory=list)  # (rows, width) per forward

    def add(self, rows: int, width: int, fed: int, kept: int) -> None:
        self.forwards += 1
        self.positions += rows * width
        self.fed += fed
        self.head_positions += rows * kept
        self.shapes.append((rows, width))


@contextmanager
def counting(model: Any) -> Iterator[Work]:
    """Record the shape of every forward pass `model` runs inside the block."""
    work = Work()

    def hook(_module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        ids = kwargs["input_ids"] if "input_ids" in kwargs else args[0]
        rows, width = ids.shape
        mask = kwargs.get("attention_mask")
        fed = int(mask[:, -width:].sum()) if mask is not None else rows * width
        keep = kwargs.get("logits_to_keep", 0)
        kept = (keep.numel() if torch.is_tensor(keep) else int(keep)) or width
        work.add(rows, width, fed, kept)

    handle = model.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        yield work
    finally:
        handle.remove()


def linear_shapes(config: Any) -> list[tuple[int, int]]:
    """(in, out) of one decoder layer's matrix multiplies (Llama/Mistral layout: q, k, v, o,
    gate, up, down)."""
    hidden = config.hidden_size
    head_dim = getattr(config, "head_dim", None) or hidden // config.num_attention_heads
    q = config.num_attention_heads * head_dim
    kv = config.num_key_value_heads * head_dim
    inter = config.intermediate_size
    return [(hidden, q), (hidden, kv), (hidden, kv), (q, hidden), (hidden, inter), (hidden, inter), (inter, hidden)]


def flops(config: Any, work: Work, padded: bool = True) -> float:
    """Matrix-multiply FLOPs of `work` on the model `config` describes (`padded=False`: as if no
    padding were computed)."""
    per_position = 2 * config.num_hidden_layers * sum(i * o for i, o in linear_shapes(config))
    positions = work.positions if padded else work.fed
    return float(per_position * positions + 2 * config.hidden_size * config.vocab_size * work.head_positions)


def stand_in(config: Any) -> Any:
    """A one-layer model with `config`'s vocabulary, context and attention layout (what decides
    the scorer's plan), small enough that running a whole split through it takes seconds."""
    from transformers import AutoModelForCausalLM

    small = type(config).from_dict(
        {
            **config.to_dict(),
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 1,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "head_dim": 16,
        }
    )
    torch.manual_seed(0)
    return AutoModelForCausalLM.from_config(small, dtype=torch.float32).eval()


def count_split(
    model: Any, tokenizer: Any, mmlu_dir: Path, subjects: Sequence[str], split: str, formulation: str, batch_size: int
) -> Work:
    from tradeoff.suites.mmlu.scoring import score_mmlu

    with counting(model) as work:
        score_mmlu(model, tokenizer, mmlu_dir, subjects, split, formulation=formulation, batch_size=batch_size)  # type: ignore[arg-type]
    return work


def gemm_rate(config: Any, rows: int, rounds: int) -> tuple[float, list[float]]:
    """FLOP/s of one decoder layer's matrix multiplies over `rows` positions: the best of
    `rounds` timings (the floor wants the machine at its fastest) and all of them."""
    torch.manual_seed(0)
    weights = [torch.randn(i, o) for i, o in linear_shapes(config)]
    inputs = {i: torch.randn(rows, i) for i, _ in linear_shapes(config)}
    per_round = 2 * rows * sum(i * o for i, o in linear_shapes(config))
    for w in weights:  # warm-up
        inputs[w.shape[0]] @ w
    rates = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(5):
            for w in weights:
                inputs[w.shape[0]] @ w
        rates.append(5 * per_round / (time.perf_counter() - start))
    return max(rates), rates


def main(argv: Sequence[str] | None = None) -> int:
    from transformers import AutoConfig, AutoTokenizer

    from tradeoff.suites.mmlu.data import list_subjects
    from tradeoff.suites.mmlu.lmeval_crosscheck import default_mmlu_dir, embedded_location
    from tradeoff.suites.mmlu.prompts import FORMULATIONS

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mmlu-dir", type=Path, default=Path(default_mmlu_dir()))
    p.add_argument("--split", default="val")
    p.add_argument("--model", default="embedded", help="'embedded' (SmolLM2-135M GGUF) or a checkpoint folder")
    p.add_argument("--batch-size", type=int, default=8, help="the scorer's rows per forward (the study's default)")
    p.add_argument("--rounds", type=int, default=7, help="timings of the GEMM rate")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own)")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    location = embedded_location() if args.model == "embedded" else args.model
    config = AutoConfig.from_pretrained(location)
    tokenizer = AutoTokenizer.from_pretrained(location)
    model = stand_in(config)
    subjects = list_subjects(args.mmlu_dir)

    figures: dict[str, Any] = {"split": args.split, "subjects": len(subjects), "batch_size": args.batch_size}
    total_flops = unpadded_flops = 0.0
    all_shapes: list[tuple[int, int]] = []
    for formulation in FORMULATIONS:
        work = count_split(model, tokenizer, args.mmlu_dir, subjects, args.split, formulation, args.batch_size)
        total_flops += flops(config, work)
        unpadded_flops += flops(config, work, padded=False)
        all_shapes += work.shapes
        figures[formulation] = {k: v for k, v in asdict(work).items() if k != "shapes"} | {
            "gflop": flops(config, work) / 1e9
        }
    # The rate at the median forward's size (weighted by positions) and at the largest; the
    # faster of the two prices every forward, so the floor stays a lower bound.
    sizes = sorted(r * w for r, w in all_shapes)
    weighted, half = 0, sum(sizes) / 2
    typical = next(s for s in sizes if (weighted := weighted + s) >= half)
    load_before = load_average()
    timed = {n: gemm_rate(config, n, args.rounds) for n in (typical, sizes[-1])}
    best = max(b for b, _ in timed.values())
    floor_s = total_flops / best
    figures |= {
        "threads": torch.get_num_threads(),
        "gemm_gflops": {str(n): {"best": b / 1e9, "all": [r / 1e9 for r in rs]} for n, (b, rs) in timed.items()},
        "floor_s": floor_s,
        "floor_unpadded_s": unpadded_flops / best,
        "goal_s": GOAL_S,
        "load_average": [load_before, load_average()],
        "machine": machine(),
    }
    for formulation in FORMULATIONS:
        w = figures[formulation]
        print(
            f"{formulation:<7} {w['forwards']:>6} forwards, {w['positions']:>8,} positions "
            f"({w['fed']:,} fed, {1 - w['fed'] / w['positions']:.0%} padding), "
            f"LM head at {w['head_positions']:,}: {w['gflop']:,.0f} GFLOP"
        )
    for n, (b, rs) in timed.items():
        print(
            f"GEMM rate at {n} positions, {torch.get_num_threads()} threads: best {b / 1e9:.1f} GFLOP/s "
            f"(of {', '.join(f'{r / 1e9:.1f}' for r in rs)})"
        )
    print(f"load average before {load_before}, after {load_average()}")
    print(
        f"floor for both formulations: {floor_s / 60:.1f} min, {unpadded_flops / best / 60:.1f} min "
        f"if no padding were computed (goal {GOAL_S / 60:.0f} min)"
    )
    print(f"machine: {figures['machine']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
