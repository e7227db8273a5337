"""Benchmark: Spider generation with shared prefixes computed once vs plain `model.generate`.

    python bench/bench_generation.py [--prompts 24] [--shots 0] [--batch-size 16] [--rounds 1]
                                     [--max-new-tokens 256] [--threads N] [--json OUT.json]
    python bench/bench_generation.py --versus-shots 4 ...   # the same questions 0-shot vs 4-shot

The embedded model (base, as `--model base-0shot` loads it) generates SQL for `--prompts`
scorable dev questions spread evenly over dev.json, rendered exactly as the Spider suite renders
them. Contenders alternate (plain, reuse, plain, reuse, ...) for `--rounds` rounds. Besides the
timings (median, min-max, load average; bench/timing.py) it reports how many outputs differ
between the two (greedy outputs must be identical: each flip is printed), the new tokens
generated, and the reuse path's projected time for all scorable dev prompts at the measured rate.

`--versus-shots K` times something else: the same questions with the 0-shot prompt and with the
K-shot prompt (the reference study's base row), both on the reuse path, interleaved; the ratio
of the medians is what K shots cost over zero, per prompt and per new token (the two prompts
make different answers, so the new-token counts differ). Each prompt is also timed with the
prefix every prompt shares copied into each row (`min_cascade` above any prompt: the code
before cascade attention), so the same run gives cascade's speedup and counts its flips.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.timing import describe, interleaved, load_average, ratio, write_figures  # noqa: E402


def sample(cases: list[Any], n: int, databases: int) -> list[Any]:
    """n cases from `databases` databases spaced evenly over dev, spread evenly within each: every
    dev question shares its database's schema with ~50 others, a sample spread over all databases
    would share almost nothing and misstate what prefix reuse saves (here it shares less, not more)."""
    from tradeoff.suites.spider.jobs import spread

    names = list(dict.fromkeys(c.example.db_id for c in cases))
    chosen = spread(names, databases)
    per_db = [[c for c in cases if c.example.db_id == db] for db in chosen]
    return [c for i, group in enumerate(per_db) for c in spread(group, n // len(chosen) + (i < n % len(chosen)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spider-dir", type=Path, default=None, help="default: $SPIDER_DIR or ../shared/data/spider")
    parser.add_argument("--prompts", type=int, default=24)
    parser.add_argument("--databases", type=int, default=3, help="the prompts come from this many databases")
    parser.add_argument("--shots", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--no-plain", action="store_true", help="time the reuse path alone (no flips counted)")
    parser.add_argument(
        "--versus-shots", type=int, default=None, metavar="K", help="time 0-shot against K-shot prompts (reuse path)"
    )
    parser.add_argument(
        "--profile", action="store_true", help="then one more reuse run under cProfile: where time goes"
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    import torch

    from tradeoff.config.experiments import load_registry, resolve_model
    from tradeoff.config.settings import default_spider_dir
    from tradeoff.inference.generation import Generation, generate_batched, generate_uncached
    from tradeoff.models.loading import load_model
    from tradeoff.suites.spider.data import SpiderData
    from tradeoff.suites.spider.jobs import select_cases
    from tradeoff.suites.spider.prompts import chat_messages, choose_fewshot, render

    torch.set_num_threads(args.threads)
    data = SpiderData(args.spider_dir or default_spider_dir())
    scorable = [case for case, skip in select_cases(data) if skip is None]
    cases = sample(scorable, args.prompts, args.databases)
    loaded = load_model(resolve_model("base-0shot", load_registry()))
    model, tokenizer = loaded.model, loaded.tokenizer
    shots = choose_fewshot(data.train(), args.shots) if args.shots else []
    prompts = [render(tokenizer, chat_messages(data, c.example.db_id, c.example.question, shots)) for c in cases]

    def run(fn: Any, texts: list[str] = prompts, **kwargs: Any) -> list[Generation]:
        out: dict[int, Generation] = {}
        fn(model, tokenizer, texts, args.max_new_tokens, args.batch_size, lambda i, g: out.update(zip(i, g)), **kwargs)
        return [out[i] for i in range(len(texts))]

    if args.versus_shots:
        few = choose_fewshot(data.train(), args.versus_shots)
        by_shots = {
            0: [render(tokenizer, chat_messages(data, c.example.db_id, c.example.question, [])) for c in cases],
            args.versus_shots: [
                render(tokenizer, chat_messages(data, c.example.db_id, c.example.question, few)) for c in cases
            ],
        }
        return versus_shots(
            args, by_shots, lambda texts, **kw: run(generate_batched, texts, **kw), tokenizer, len(scorable)
        )

    contenders = {} if args.no_plain else {"plain": lambda: run(generate_uncached)}
    contenders["reuse"] = lambda: run(generate_batched)
    before = load_average()
    timings, results = interleaved(contenders, args.rounds)
    after = load_average()
    reuse = results["reuse"]
    new_tokens = sum(len(tokenizer(g.text, add_special_tokens=False).input_ids) + g.stopped for g in reuse)
    prompt_tokens = [len(tokenizer(p, add_special_tokens=False).input_ids) for p in prompts]
    per_prompt = timings["reuse"].median / len(prompts)
    figures: dict[str, Any] = {
        "prompts": len(prompts),
        "shots": args.shots,
        "batch_size": args.batch_size,
        "max_new_tokens": args.max_new_tokens,
        "threads": args.threads,
        "prompt_tokens_mean": sum(prompt_tokens) / len(prompts),
        "new_tokens_mean": new_tokens / len(prompts),
        "stopped": sum(g.stopped for g in reuse),
        "load_average_before": before,
        "load_average_after": after,
        "reuse_projected_s_all_scorable": per_prompt * len(scorable),
        "scorable_dev_prompts": len(scorable),
    }
    print("\n".join(describe(timings, next(iter(timings)), before, after)))
    if "plain" in results:
        flips = [i for i, (a, b) in enumerate(zip(results["plain"], reuse)) if a != b]
        figures["identical_outputs"] = f"{len(prompts) - len(flips)}/{len(prompts)}"
        figures["speedup_median"] = ratio(timings["plain"], timings["reuse"])
        print(f"identical outputs {figures['identical_outputs']}")
        for i in flips:
            print(f"flip {cases[i].case_id}: plain {results['plain'][i]!r} reuse {reuse[i]!r}")
    print(
        f"{len(prompts)} prompts ({args.shots}-shot, mean {figures['prompt_tokens_mean']:.0f} prompt tokens, "
        f"mean {figures['new_tokens_mean']:.0f} new tokens, {figures['stopped']} stopped); reuse projected for all "
        f"{len(scorable)} scorable dev prompts: {figures['reuse_projected_s_all_scorable'] / 60:.1f} min"
    )
    if args.profile:
        figures["profile_s"] = profile(lambda: run(generate_batched))
    write_figures(args.json, figures, timings)
    return 0


def versus_shots(
    args: argparse.Namespace, by_shots: dict[int, list[str]], run: Any, tokenizer: Any, scorable: int
) -> int:
    """0-shot against K-shot on the same questions, interleaved: the cost of the few-shot prompt."""
    from bench.timing import Timing

    names = {k: f"{k}-shot" for k in by_shots}
    before = load_average()
    contenders: dict[str, Callable[[], Any]] = {}
    for k, texts in by_shots.items():
        contenders[names[k]] = functools.partial(run, texts)
        contenders[f"{names[k]} copied"] = functools.partial(run, texts, min_cascade=10**9)
    timings, results = interleaved(contenders, args.rounds)
    after = load_average()
    zero, many = (names[k] for k in by_shots)
    figures: dict[str, Any] = {
        "prompts": len(by_shots[0]),
        "batch_size": args.batch_size,
        "max_new_tokens": args.max_new_tokens,
        "threads": args.threads,
        "load_average_before": before,
        "load_average_after": after,
        "scorable_dev_prompts": scorable,
    }
    per_token: dict[str, Timing] = {}
    for k, texts in by_shots.items():
        outputs = results[names[k]]
        new = sum(len(tokenizer(g.text, add_special_tokens=False).input_ids) + g.stopped for g in outputs)
        figures[names[k]] = {
            "prompt_tokens_mean": sum(len(tokenizer(p, add_special_tokens=False).input_ids) for p in texts)
            / len(texts),
            "new_tokens_mean": new / len(texts),
            "stopped": sum(g.stopped for g in outputs),
            "projected_s_all_scorable": timings[names[k]].median / len(texts) * scorable,
        }
        per_token[names[k]] = Timing(names[k], [t / new for t in timings[names[k]].seconds])
    figures["time_ratio_median"] = ratio(timings[many], timings[zero])
    figures["time_per_new_token_ratio_median"] = ratio(per_token[many], per_token[zero])
    figures["time_ratio_copied_median"] = ratio(timings[f"{many} copied"], timings[f"{zero} copied"])
    for k in by_shots:
        name = names[k]
        flips = [i for i, (a, b) in enumerate(zip(results[f"{name} copied"], results[name])) if a != b]
        figures[name]["cascade_speedup_median"] = ratio(timings[f"{name} copied"], timings[name])
        figures[name]["identical_to_copied"] = f"{len(by_shots[k]) - len(flips)}/{len(by_shots[k])}"
        for i in flips:
            print(f"flip {name} #{i}: copied {results[f'{name} copied'][i]!r} cascade {results[name][i]!r}")
    print("\n".join(describe(timings, zero, before, after)))
    for name in (zero, many):
        f = figures[name]
        print(
            f"{name}: mean {f['prompt_tokens_mean']:.0f} prompt tokens, {f['new_tokens_mean']:.0f} new tokens, "
            f"{f['stopped']} stopped; projected for all {scorable}: {f['projected_s_all_scorable'] / 60:.1f} min"
        )
        print(
            f"{name}: cascade {f['cascade_speedup_median']:.2f}x faster than copied, "
            f"{f['identical_to_copied']} outputs identical"
        )
    print(
        f"{many} / {zero}: {figures['time_ratio_median']:.2f}x the time per prompt, "
        f"{figures['time_per_new_token_ratio_median']:.2f}x per new token "
        f"(copied prefix: {figures['time_ratio_copied_median']:.2f}x per prompt)"
    )
    write_figures(args.json, figures, timings)
    return 0


# What the profile is split into: our steps by cumulative time, torch's kernels by own time.
STEPS = {
    "prefix caches (shared prefixes, once each)": ("generation.py", "_extend"),
    "prefill (rows' own suffixes)": ("generation.py", "_prefill"),
    "decode steps": ("generation.py", "step"),
    "joining rows (cache packing)": ("generation.py", "join"),
}
KERNELS = {
    "matrix multiplies (nn.linear)": "<built-in method torch._C._nn.linear>",
    "attention (sdpa)": "<built-in method torch._C._nn.scaled_dot_product_attention>",
}


def profile(run: Any) -> dict[str, float]:
    """Seconds per step and per kernel of one run (steps overlap kernels: kernels run inside steps)."""
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    run()
    profiler.disable()
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    out: dict[str, float] = {"total": sum(tt for _, _, tt, _, _ in stats.values())}
    for label, (file, name) in STEPS.items():
        out[label] = sum(ct for (f, _, n), (_, _, _, ct, _) in stats.items() if f.endswith(file) and n == name)
    for label, name in KERNELS.items():
        out[label] = sum(tt for (_, _, n), (_, _, tt, _, _) in stats.items() if n == name)
    print("profile of one reuse run (seconds; kernels run inside the steps):")
    for label, seconds in out.items():
        print(f"  {label:<44}{seconds:8.1f}{100 * seconds / out['total']:7.0f}%")
    return out


if __name__ == "__main__":
    sys.exit(main())
