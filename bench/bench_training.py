"""Benchmark: training steps, the model's full-logits loss against what train.py runs.

    python bench/bench_training.py [--steps 4] [--repeats 2] [--threads N] [--json OUT.json]

Contenders: `full_logits` (the model's own `labels=` loss, the mask passed: the code before
any change), `answer_only_masked` (the LM head at the answer positions, the mask still
passed), `answer_only` (also no mask for right-padded batches, so SDPA takes its causal kernel;
what train.py runs on a GPU) and `answer_only_rows` (also one unpadded row per forward and
backward, each row's share of the batch loss: what train.py runs on CPU). Each contender runs
in a fresh child process (so its peak RSS is its own): the embedded SmolLM2-135M with the v1
LoRA configuration, `--pool` seeded Spider train examples put in batches of 4 by length as
train.py's sampler does it (transformers' LengthGroupedSampler, seeded) and `--steps` of those
batches spread evenly over the sampler's order, AdamW, one optimizer step per batch, the first
one not timed (warm-up); LoRA's initial weights are seeded, so every contender
starts from the same adapter. Each contender first computes the loss of one fixed batch with
dropout off, which must agree across contenders; the per-step training losses agree too, except
the row-by-row contender's, whose dropout draws its masks per row (the same distribution, other
random numbers), so its steps differ from the batched ones by dropout noise. The contenders alternate
(A B A B ...) `--repeats` times, so a load change on a shared machine hits both; the report
gives the median tokens/s of each, its min-max, the ratio of the medians, peak RSS, and the
load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
CONTENDERS = ("full_logits", "answer_only_masked", "answer_only", "answer_only_rows")


def loss_of(contender: str, model: Any, batch: dict[str, Any], backward: Any) -> Any:
    """The contender's loss of `batch`, passed to `backward` (row by row, each row's share)."""
    from tradeoff.training.data import IGNORE_INDEX
    from tradeoff.training.loss import answer_only_loss, backward_row_by_row

    ids, mask, labels = batch["input_ids"], batch["attention_mask"], batch["labels"]
    if contender == "answer_only_rows":
        count = (labels[:, 1:] != IGNORE_INDEX).sum()
        return backward_row_by_row(model, ids, mask, labels, count, backward=backward)
    if contender.startswith("answer_only"):
        loss = answer_only_loss(model, ids, mask, labels, drop_right_padding_mask=contender == "answer_only")
    else:
        loss = model(**batch).loss
    backward(loss)
    return loss


def child(contender: str, steps: int, threads: int, pool: int) -> dict[str, Any]:
    import torch
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM
    from transformers.trainer_pt_utils import LengthGroupedSampler

    from tradeoff.config.experiments import load_registry
    from tradeoff.models.identity import base_identity
    from tradeoff.models.loading import base_location, load_tokenizer
    from tradeoff.suites.spider.data import SpiderData
    from tradeoff.training.config import plan_run
    from tradeoff.training.data import PadCollator, build_training_set
    from tradeoff.training.trainer import lora_config

    torch.set_num_threads(threads)
    base = load_registry().base(None)
    location = base_location(base, base_identity(base))
    tokenizer = load_tokenizer(location)
    plan = plan_run("v1")
    cfg = plan.training
    data = SpiderData(plan.spider_dir)
    dataset = build_training_set(data, tokenizer, cfg.train_files, cfg.max_seq_length, cfg.seed, pool)
    collate = PadCollator(tokenizer.pad_token_id)
    order = list(
        LengthGroupedSampler(
            cfg.batch_size,
            lengths=[len(f["input_ids"]) for f in dataset.features],
            generator=torch.Generator().manual_seed(cfg.seed),
        )
    )
    batches = [order[i : i + cfg.batch_size] for i in range(0, len(order), cfg.batch_size)]
    # `steps` of the sampler's batches spread evenly over its order: its first batch is always
    # the pool's longest, so the first `steps` would time the longest examples only
    # (shortest first: the untimed warm-up step is the cheapest)
    chosen = [batches[round(k * (len(batches) - 1) / max(1, steps - 1))] for k in range(steps)][::-1]
    features = [dataset.features[i] for batch in chosen for i in batch]
    torch.manual_seed(cfg.seed)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(location, dtype=torch.float32), lora_config(cfg))
    # the loss on one fixed batch with dropout off, before any step: every contender's must agree
    fixed = collate(features[-cfg.batch_size :])
    model.eval()
    with torch.no_grad():
        fixed_loss = float(loss_of(contender, model, fixed, backward=lambda loss: None))
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg.learning_rate)
    timed_tokens, timed_s, losses, padded = 0, 0.0, [], 0
    for step in range(steps):
        batch = collate(features[step * cfg.batch_size : (step + 1) * cfg.batch_size])
        start = time.perf_counter()
        loss = loss_of(contender, model, batch, backward=lambda loss: loss.backward())
        optimizer.step()
        optimizer.zero_grad()
        elapsed = time.perf_counter() - start
        losses.append(float(loss))
        if step:  # the first step warms up allocators and kernels
            timed_tokens += int(batch["attention_mask"].sum())
            padded += batch["attention_mask"].numel()
            timed_s += elapsed
    return {
        "contender": contender,
        "padding_share": 1 - timed_tokens / padded if padded else None,
        "fixed_batch_loss": fixed_loss,
        "tokens_per_s": timed_tokens / timed_s if timed_s else None,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "losses": losses,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--pool", type=int, default=200, help="seeded examples the sampler groups (200: one of train.py's megabatches)"
    )
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--child", choices=CONTENDERS, help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.steps, args.threads, args.pool)))
        return 0
    load_before = os.getloadavg()
    runs: dict[str, list[dict[str, Any]]] = {c: [] for c in CONTENDERS}
    for _ in range(args.repeats):
        for contender in CONTENDERS:
            cmd = [
                sys.executable,
                __file__,
                "--child",
                contender,
                "--steps",
                str(args.steps),
                "--threads",
                str(args.threads),
                "--pool",
                str(args.pool),
            ]
            done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
            if done.returncode:
                print(f"error: {contender} failed: {done.stderr[-2000:]}", file=sys.stderr)
                return 1
            runs[contender].append(json.loads(done.stdout.strip().splitlines()[-1]))
    load_after = os.getloadavg()
    summary: dict[str, Any] = {
        "steps": args.steps,
        "repeats": args.repeats,
        "pool": args.pool,
        "threads": args.threads,
        "load_average_before": load_before,
        "load_average_after": load_after,
    }
    for contender, results in runs.items():
        speeds = [r["tokens_per_s"] for r in results]
        summary[contender] = {
            "tokens_per_s_median": statistics.median(speeds),
            "tokens_per_s_min": min(speeds),
            "tokens_per_s_max": max(speeds),
            "peak_rss_mib_max": max(r["peak_rss_mib"] for r in results),
            "losses": results[0]["losses"],
            "padding_share_of_timed_batches": results[0]["padding_share"],
            "fixed_batch_loss_dropout_off": results[0]["fixed_batch_loss"],
        }
    full = summary["full_logits"]
    for name in CONTENDERS[1:]:
        mine = summary[name]
        mine["speedup_median_vs_full_logits"] = mine["tokens_per_s_median"] / full["tokens_per_s_median"]
        mine["peak_rss_ratio_vs_full_logits"] = mine["peak_rss_mib_max"] / full["peak_rss_mib_max"]
        mine["fixed_batch_loss_difference_vs_full_logits"] = abs(
            mine["fixed_batch_loss_dropout_off"] - full["fixed_batch_loss_dropout_off"]
        )
        mine["max_loss_difference_vs_full_logits"] = max(
            abs(a - b) for a, b in zip(full["losses"], mine["losses"], strict=True)
        )
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f}; {args.threads} torch threads")
    for name in CONTENDERS:
        s = summary[name]
        line = (
            f"{name:<18} {s['tokens_per_s_median']:7.1f} tokens/s (min {s['tokens_per_s_min']:.1f}, max "
            f"{s['tokens_per_s_max']:.1f}), peak RSS {s['peak_rss_mib_max']:.0f} MiB"
        )
        if name != "full_logits":
            line += (
                f"; vs full_logits {s['speedup_median_vs_full_logits']:.2f}x speed, "
                f"{s['peak_rss_ratio_vs_full_logits']:.2f}x memory, "
                f"fixed-batch loss difference (dropout off) {s['fixed_batch_loss_difference_vs_full_logits']:.1e}, "
                f"largest per-step training loss difference {s['max_loss_difference_vs_full_logits']:.1e}"
            )
        print(line)
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
