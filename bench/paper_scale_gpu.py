"""Speed at the reference study's scale: Mistral-7B's architecture with random bf16 weights
and the real Mistral tokenizer, each figure beside a naive baseline measured in the same run.

    python bench/paper_scale_gpu.py --tokenizer-model tokenizer.model.v1 \
        --spider-dir ../shared/data/spider --mmlu-dir ../shared/data/mmlu --out figures.json

Parts (--parts): mmlu (full test, 5-shot letter: prefix reuse vs no reuse vs four forwards per
question), spider (1034 dev prompts, greedy, fixed new tokens: batched vs one at a time, and
decode step time vs the memory-bandwidth roofline), train (LoRA r=4 q+v, batch 4, bf16:
tokens/s and MFU). Baselines run on a sample and are extrapolated; the output says so.
`--tiny` runs the same code on a 2-layer model on the CPU to check it before using a GPU.
Random weights give meaningless answers but the exact compute of the real model.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tradeoff.inference.generation import generate_batched  # noqa: E402
from tradeoff.suites.mmlu.categories import SUBJECTS  # noqa: E402
from tradeoff.suites.mmlu.data import load_split  # noqa: E402
from tradeoff.suites.mmlu.prompts import continuations, fewshot_prefix, question_text  # noqa: E402
from tradeoff.suites.mmlu.scoring import score_mmlu  # noqa: E402
from tradeoff.suites.spider.data import SpiderData  # noqa: E402
from tradeoff.suites.spider.prompts import chat_messages, choose_fewshot, render  # noqa: E402

# Nominal dense bf16 peak and HBM bandwidth by device name (vendor datasheets, SXM parts).
PEAKS = {"H100": (989e12, 3.35e12), "H200": (989e12, 4.8e12)}


def mistral_7b_config(tiny: bool) -> Any:
    from transformers import MistralConfig

    if tiny:
        return MistralConfig(
            hidden_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            intermediate_size=128,
            vocab_size=32000,
            rope_theta=1e6,  # type: ignore[call-arg]
            sliding_window=None,
        )
    # mistralai/Mistral-7B-Instruct-v0.2's config.json
    return MistralConfig(
        hidden_size=4096,
        num_hidden_layers=32,
        num_attention_heads=32,
        num_key_value_heads=8,
        intermediate_size=14336,
        vocab_size=32000,
        rope_theta=1e6,  # type: ignore[call-arg]
        max_position_embeddings=32768,
        sliding_window=None,
        rms_norm_eps=1e-5,
        tie_word_embeddings=False,
    )


def build_model(tiny: bool, device: str) -> Any:
    from transformers import MistralForCausalLM

    dtype = torch.float32 if tiny else torch.bfloat16
    torch.manual_seed(0)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            model = MistralForCausalLM(mistral_7b_config(tiny))
    finally:
        torch.set_default_dtype(previous)
    model.generation_config.eos_token_id = None  # random weights: never stop early
    return model.eval()


def build_tokenizer(model_file: Path) -> Any:
    from transformers import LlamaTokenizer

    folder = Path(tempfile.mkdtemp(prefix="mistral-tok-"))
    (folder / "tokenizer.model").write_bytes(model_file.read_bytes())
    tokenizer = LlamaTokenizer.from_pretrained(str(folder), add_bos_token=True)
    tokenizer.pad_token = tokenizer.unk_token
    tokenizer.padding_side = "left"
    return tokenizer


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def timed(fn: Any) -> tuple[Any, float]:
    sync()
    start = time.perf_counter()
    out = fn()
    sync()
    return out, time.perf_counter() - start


def bench_mmlu(model: Any, tok: Any, mmlu_dir: Path, limit: int | None, sample: int, batch: int) -> dict[str, Any]:
    subjects = list(SUBJECTS)
    reuse, t_reuse = timed(lambda: score_mmlu(model, tok, mmlu_dir, subjects, "test", 5, "letter", limit, batch, True))
    n = len(reuse)
    # Baselines on the first `sample` questions of a few subjects, compared question by question.
    few = subjects[:: max(1, len(subjects) // 4)][:4]
    per = max(1, sample // len(few))
    plain, t_plain = timed(lambda: score_mmlu(model, tok, mmlu_dir, few, "test", 5, "letter", per, batch, False))
    ours = {s.case_id: s for s in reuse}
    same = sum(ours[s.case_id].predicted == s.predicted for s in plain)
    max_diff = max(abs(a - b) for s in plain for a, b in zip(ours[s.case_id].loglikelihoods, s.loglikelihoods))

    def four_forwards() -> int:
        done = 0
        for subject in few:
            dev = load_split(mmlu_dir, subject, "dev")
            prefix = fewshot_prefix(subject, dev, 5, "letter")
            for q in load_split(mmlu_dir, subject, "test")[:per]:
                context = prefix + question_text(q, "letter")
                with torch.inference_mode():
                    for cont in continuations(q, "letter"):
                        ids = tok(context + cont, return_tensors="pt").input_ids.to(model.device)
                        model(input_ids=ids)
                done += 1
        return done

    n_four, t_four = timed(four_forwards)
    return {
        "questions": n,
        "prefix_reuse_s": t_reuse,
        "prefix_reuse_q_per_s": n / t_reuse,
        "no_reuse_sample": len(plain),
        "no_reuse_q_per_s": len(plain) / t_plain,
        "four_forwards_sample": n_four,
        "four_forwards_q_per_s": n_four / t_four,
        "speedup_vs_no_reuse": (n / t_reuse) / (len(plain) / t_plain),
        "speedup_vs_four_forwards": (n / t_reuse) / (n_four / t_four),
        "identical_predictions_vs_no_reuse": f"{same}/{len(plain)}",
        "max_abs_loglik_diff_vs_no_reuse": max_diff,
        "extrapolated_full_test_s": {
            "no_reuse": 14042 / (len(plain) / t_plain),
            "four_forwards": 14042 / (n_four / t_four),
        },
    }


def bench_spider(
    model: Any, tok: Any, spider_dir: Path, new_tokens: int, batch: int, sample: int, limit: int | None
) -> dict[str, Any]:
    data = SpiderData(spider_dir)
    shots = choose_fewshot(data.train(), 4)
    dev = data.dev[:limit] if limit else data.dev
    prompts = [render(tok, chat_messages(data, e.db_id, e.question, shots)) for e in dev]
    lengths = [len(tok(p).input_ids) for p in prompts]
    fixed = {"min_new_tokens": new_tokens}
    outs: list[str] = []
    _, t_batched = timed(
        lambda: generate_batched(
            model, tok, prompts, new_tokens, batch, lambda i, x: outs.extend(g.text for g in x), **fixed
        )
    )
    few = prompts[:sample]
    _, t_single = timed(lambda: generate_batched(model, tok, few, new_tokens, 1, lambda i, x: None, **fixed))
    # Decode step time: the same two batches with 1 and with `new_tokens` new tokens.
    probe = sorted(prompts, key=len)[len(prompts) // 2 :][: 2 * batch]
    _, t_one = timed(lambda: generate_batched(model, tok, probe, 1, batch, lambda i, x: None, min_new_tokens=1))
    _, t_full = timed(lambda: generate_batched(model, tok, probe, new_tokens, batch, lambda i, x: None, **fixed))
    n_batches = -(-len(probe) // batch)
    step_s = (t_full - t_one) / ((new_tokens - 1) * n_batches)
    weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    name = torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
    bandwidth = next((bw for key, (_, bw) in PEAKS.items() if key in name), None)
    roofline = weight_bytes / bandwidth if bandwidth else None
    return {
        "prompts": len(prompts),
        "prompt_tokens_mean": sum(lengths) / len(lengths),
        "prompt_tokens_max": max(lengths),
        "new_tokens": new_tokens,
        "batch_size": batch,
        "batched_s": t_batched,
        "per_example_sample": len(few),
        "per_example_s_per_prompt": t_single / len(few),
        "per_example_extrapolated_s": t_single / len(few) * len(prompts),
        "speedup_batched_vs_per_example": (t_single / len(few) * len(prompts)) / t_batched,
        "decode_step_ms": 1000 * step_s,
        "roofline_step_ms": 1000 * roofline if roofline else None,
        "decode_vs_roofline": step_s / roofline if roofline else None,
    }


def bench_train(model: Any, tok: Any, spider_dir: Path, steps: int, warmup: int, seq: int) -> dict[str, Any]:
    from peft import LoraConfig, get_peft_model

    data = SpiderData(spider_dir)
    lora = get_peft_model(
        model,
        LoraConfig(r=4, lora_alpha=16, lora_dropout=0.05, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"),
    )
    trainable = sum(p.numel() for p in lora.parameters() if p.requires_grad)
    total = sum(p.numel() for p in lora.parameters())
    texts = [
        render(tok, chat_messages(data, e.db_id, e.question, answer=e.query), add_generation_prompt=False)
        for e in data.train()[: 4 * (steps + warmup)]
    ]
    batches = [texts[i : i + 4] for i in range(0, len(texts), 4)]
    opt = torch.optim.AdamW([p for p in lora.parameters() if p.requires_grad], lr=2e-4)
    lora.train()
    tok.padding_side = "right"
    tokens = 0
    elapsed = 0.0
    for step, batch in enumerate(batches):
        enc = tok(batch, return_tensors="pt", padding=True, truncation=True, max_length=seq).to(model.device)
        labels = enc.input_ids.masked_fill(enc.attention_mask == 0, -100)
        sync()
        start = time.perf_counter()
        loss = lora(**enc, labels=labels).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        sync()
        if step >= warmup:
            elapsed += time.perf_counter() - start
            tokens += int(enc.attention_mask.sum())
    tok.padding_side = "left"
    tps = tokens / elapsed
    n_frozen = total - trainable
    name = torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
    peak = next((pk for key, (pk, _) in PEAKS.items() if key in name), None)
    # LoRA on a frozen base: forward 2N + activation gradients 2N FLOPs per token (no weight
    # gradients for frozen weights); the full fine-tuning convention would be 6N.
    return {
        "trainable_params": trainable,
        "total_params": total,
        "trainable_pct": 100 * trainable / total,
        "measured_steps": len(batches) - warmup,
        "tokens_per_s": tps,
        "mfu_4N": tps * 4 * n_frozen / peak if peak else None,
        "mfu_6N_convention": tps * 6 * n_frozen / peak if peak else None,
        "peak_flops": peak,
        "max_memory_gib": torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else None,
    }


def checkpoint(figures: dict[str, Any], out: Path | None) -> None:
    """Print and save after every part, so a later failure keeps the figures already taken."""
    print(json.dumps(figures), flush=True)
    if out:
        out.write_text(json.dumps(figures, indent=1))
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokenizer-model", type=Path, required=True, help="mistral_common/data/tokenizer.model.v1")
    parser.add_argument("--spider-dir", type=Path, default=REPO.parent / "shared" / "data" / "spider")
    parser.add_argument("--mmlu-dir", type=Path, default=REPO.parent / "shared" / "data" / "mmlu")
    parser.add_argument("--parts", default="mmlu,spider,train")
    parser.add_argument("--tiny", action="store_true", help="2-layer model on the CPU, few questions: a dry run")
    parser.add_argument("--mmlu-batch", type=int, default=32)
    parser.add_argument("--spider-batch", type=int, default=32)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    device = "cuda" if torch.cuda.is_available() and not args.tiny else "cpu"
    tok = build_tokenizer(args.tokenizer_model)
    (model, t_build) = timed(lambda: build_model(args.tiny, device))
    figures: dict[str, Any] = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "device": torch.cuda.get_device_name() if device == "cuda" else platform.processor() or "cpu",
        "versions": {
            "torch": torch.__version__,
            "transformers": __import__("transformers").__version__,
            "peft": __import__("peft").__version__,
            "python": platform.python_version(),
        },
        "model": "MistralForCausalLM, Mistral-7B-Instruct-v0.2 config, random weights"
        + (" (tiny)" if args.tiny else ", bf16"),
        "model_build_s": t_build,
    }
    parts = args.parts.split(",")
    if "mmlu" in parts:
        figures["mmlu"] = bench_mmlu(
            model, tok, args.mmlu_dir, 2 if args.tiny else None, 8 if args.tiny else 64, args.mmlu_batch
        )
        checkpoint(figures, args.out)
    if "spider" in parts:
        figures["spider"] = bench_spider(
            model,
            tok,
            args.spider_dir,
            8 if args.tiny else args.new_tokens,
            4 if args.tiny else args.spider_batch,
            2 if args.tiny else 16,
            12 if args.tiny else None,
        )
        checkpoint(figures, args.out)
    if "train" in parts:
        figures["train"] = bench_train(model, tok, args.spider_dir, 2 if args.tiny else 20, 1 if args.tiny else 5, 1024)
        checkpoint(figures, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
