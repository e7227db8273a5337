"""Faults and interruptions, nothing lost: real SIGKILLs of real subprocesses.

* A benchmark run (`python -m pytest tests/spider tests/mmlu --model <tiny model folder>`) is
  SIGKILLed mid-Spider-generation, then (resumed, -n 0) while Spider cases are being scored,
  then (resumed, -n 2: controller and workers) mid-MMLU-scoring; each rerun computes exactly the
  predictions the cache lacked, and the final -n 2 run's per-case results equal an uninterrupted
  -n 0 run's on a separate cache (the determinism check, -n 0 vs -n 2, and -n 2 on one cache).
* `python train.py` is SIGKILLed between checkpoints, then while writing a checkpoint; the rerun
  resumes from the last complete one and ends with an uninterrupted run's adapter, bit for bit.
* The SQLite prediction cache stays sound: concurrent writer processes and a writer SIGKILLed
  in the middle of its transactions.

Nothing in the product is patched. Timing comes from a probe the subprocesses load (a pytest
plugin via `-p`, a sitecustomize for train.py) that only logs progress and sleeps after each
committed batch, case or optimizer step, so the kill lands in a known phase. Figures for
docs/faults-interruptions.md: set $INTERRUPTION_FIGURES to a file.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MMLU = Path(os.environ.get("MMLU_DIR", REPO.parent / "shared" / "data" / "mmlu"))
OFFLINE = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "DEEPEVAL_TELEMETRY_OPT_OUT": "1",
    "TOKENIZERS_PARALLELISM": "false",
}
N_SPIDER_DEV = 24  # scorable synthetic dev cases (plus one on a missing database, skipped)
MMLU_SUBJECTS = ("abstract_algebra", "virology")
MMLU_LIMIT = 4
N_MMLU = len(MMLU_SUBJECTS) * MMLU_LIMIT * 2  # letter and cloze
TRAIN_STEPS, SAVE_STEPS = 30, 10

# ---------------------------------------------------------------- the probe the subprocesses load

PROBE_PLUGIN = '''
"""pytest plugin for test_interruptions: logs progress as JSON lines, sleeps to widen windows."""
import json, os, time

LOG = os.environ["PROBE_LOG"]
PUT_DELAY = float(os.environ.get("PROBE_PUT_DELAY", "0"))
PUT_DELAY_KIND = os.environ.get("PROBE_PUT_DELAY_KIND", "")  # "spider" or "mmlu"; empty: both
CASE_DELAY = float(os.environ.get("PROBE_CASE_DELAY", "0"))


def log(**record):
    record["pid"] = os.getpid()
    with open(LOG, "a") as handle:
        handle.write(json.dumps(record) + "\\n")


def pytest_configure(config):
    from tradeoff.inference.cache import PredictionCache

    original = PredictionCache.put_many

    def put_many(self, model_key, rows, provenance=None):
        rows = list(rows)
        original(self, model_key, rows, provenance)  # committed once this returns
        kind = "spider" if rows and "text" in rows[0][2] else "mmlu"
        log(event="put", kind=kind, keys=[key for key, _, _ in rows])
        if PUT_DELAY_KIND in ("", kind):
            time.sleep(PUT_DELAY)

    PredictionCache.put_many = put_many


def pytest_runtest_logreport(report):
    if report.when == "call" and not hasattr(report, "node"):
        log(event="case", nodeid=report.nodeid, outcome=report.outcome)
        time.sleep(CASE_DELAY)
'''

# Imported by every Python started with the probe folder on PYTHONPATH; acts in train.py only.
PROBE_SITECUSTOMIZE = """
import os
if os.environ.get("PROBE_TRAIN_LOG"):
    import json, time
    from transformers import Trainer, trainer_callback

    _step_end = trainer_callback.DefaultFlowCallback.on_step_end
    _save_rng = Trainer._save_rng_state
    _delay = float(os.environ.get("PROBE_STEP_DELAY", "0"))
    _from = int(os.environ.get("PROBE_DELAY_FROM_STEP", "0"))
    _save_at = int(os.environ.get("PROBE_SAVE_DELAY_AT_STEP", "0"))

    def _log(**record):
        with open(os.environ["PROBE_TRAIN_LOG"], "a") as handle:
            handle.write(json.dumps({**record, "pid": os.getpid()}) + "\\n")

    def on_step_end(self, args, state, control, **kwargs):
        _log(event="step", step=state.global_step)
        if _from and state.global_step >= _from:
            time.sleep(_delay)  # before this step's checkpoint is decided and written
        return _step_end(self, args, state, control, **kwargs)

    def save_rng_state(self, output_dir):
        # weights and optimizer of this checkpoint are on disk, trainer_state.json is not yet
        if self.state.global_step == _save_at:
            _log(event="saving", step=self.state.global_step)
            time.sleep(_delay)
        return _save_rng(self, output_dir)

    trainer_callback.DefaultFlowCallback.on_step_end = on_step_end
    Trainer._save_rng_state = save_rng_state
"""


FIGURES: list[dict] = []  # what each kill found and left, for docs/faults-interruptions.md


@pytest.fixture(scope="module", autouse=True)
def figures_file():
    """With $INTERRUPTION_FIGURES set, the figures are appended there as JSON lines."""
    yield
    target = os.environ.get("INTERRUPTION_FIGURES")
    if target:
        with open(target, "a") as handle:
            for figure in FIGURES:
                handle.write(json.dumps(figure) + "\n")


def read_log(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:  # a line being written as we read
            pass
    return out


def wait_then_kill(proc: subprocess.Popen, ready, what: str, timeout: float = 240) -> None:
    """SIGKILL the process group (xdist workers included) as soon as ready() holds."""
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            out = proc.output.read_text()
            raise AssertionError(f"process ended (rc {proc.returncode}) before {what}:\n{out[-4000:]}")
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL


# ---------------------------------------------------------------- the world: data, tiny model


def _load_by_path(name: str, file: str):
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(file))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _extend_dev(spider: Path) -> None:
    """N_SPIDER_DEV distinct questions on the synthetic `shop` database, plus the missing-db one."""
    dev = json.loads((spider / "dev.json").read_text())
    shop, gone = [ex for ex in dev if ex["db_id"] == "shop"], [ex for ex in dev if ex["db_id"] == "gone"]
    extended = []
    for i in range(N_SPIDER_DEV):
        ex = dict(shop[i % len(shop)])
        ex["question"] = f"{ex['question']} (variant {i})"
        extended.append(ex)
    (spider / "dev.json").write_text(json.dumps(extended[:5] + gone + extended[5:]))


def _sql_speaking_model(tiny: Path, experiments: Path, spider: Path, root: Path) -> tuple[Path, Path]:
    """The tiny base with a briefly trained LoRA merged in: a plain model folder whose answers are
    SQL-like (some run, some do not parse), so that scoring does real work.
    Returns (adapter, merged model folder); the adapter is also test 2's uninterrupted run."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tradeoff.training.trainer import train

    adapter = train(
        "v1",
        spider_dir=spider,
        output_root=root / "sql-adapter",
        experiments_file=experiments,
        max_steps=TRAIN_STEPS,
        save_steps=TRAIN_STEPS,
    )
    merged = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny), str(adapter)).merge_and_unload()
    merged.save_pretrained(root / "sql-tiny")
    AutoTokenizer.from_pretrained(tiny).save_pretrained(root / "sql-tiny")
    return adapter, root / "sql-tiny"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    if not (MMLU / "test" / "virology_test.csv").is_file():
        pytest.skip(f"no MMLU data at {MMLU}")
    import synthetic_spider as conftest  # tests/helpers, on sys.path through conftest.py

    train_helpers = _load_by_path("_interruptions_train_helpers", "test_train.py")
    from tradeoff.suites.spider.data import SpiderData

    root = tmp_path_factory.mktemp("interrupt")
    spider = conftest.make_spider_dir(root / "spider")
    _extend_dev(spider)
    tokenizer = train_helpers.build_tokenizer(SpiderData(spider))
    tiny = train_helpers.make_tiny_model(root / "tiny", tokenizer)
    experiments = root / "experiments.toml"
    experiments.write_text(train_helpers.EXPERIMENTS.format(tiny=tiny, other=tiny))
    sql_adapter, sql_tiny = _sql_speaking_model(tiny, experiments, spider, root)
    probe = root / "probe"
    probe.mkdir()
    (probe / "interrupt_probe.py").write_text(PROBE_PLUGIN)
    (probe / "sitecustomize.py").write_text(PROBE_SITECUSTOMIZE)
    return {
        "root": root,
        "spider": spider,
        "tiny": tiny,
        "sql_tiny": sql_tiny,
        "sql_adapter": sql_adapter,
        "experiments": experiments,
        "probe": probe,
    }


def bench_env(world, cache: Path, log: Path, **probe) -> dict[str, str]:
    env = dict(os.environ, **OFFLINE)
    for name in [n for n in env if n.startswith(("PYTEST_XDIST_", "PYTEST_CURRENT_TEST"))]:
        del env[name]  # when this file itself runs under xdist
    env.update(
        TRADEOFF_CACHE_DIR=str(cache),
        TRADEOFF_MODELS_DIR=str(world["root"] / "models"),
        TRADEOFF_EXPERIMENTS=str(world["experiments"]),
        PYTHONPATH=os.pathsep.join([str(world["probe"]), str(REPO)]),
        PROBE_LOG=str(log),
        PROBE_PUT_DELAY=str(probe.get("put_delay", 0)),
        PROBE_CASE_DELAY=str(probe.get("case_delay", 0)),
        PROBE_PUT_DELAY_KIND=str(probe.get("delay_kind", "")),
    )
    return env


def bench_cmd(world, results: Path, workers: str = "0") -> list[str]:
    return [
        sys.executable,
        "-m",
        "pytest",
        "tests/spider",
        "tests/mmlu",
        "-n",
        workers,
        "--model",
        str(world["sql_tiny"]),
        "--spider-dir",
        str(world["spider"]),
        "--mmlu-dir",
        str(MMLU),
        "--results-dir",
        str(results),
        "--spider-shots",
        "1",
        "--max-new-tokens",
        "16",
        "--batch-size",
        "2",
        "--mmlu-subjects",
        ",".join(MMLU_SUBJECTS),
        "--mmlu-limit",
        str(MMLU_LIMIT),
        "--mmlu-shots",
        "1",
        "--mmlu-formulation",
        "both",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "interrupt_probe",
    ]


def start(cmd: list[str], env: dict[str, str], output: Path) -> subprocess.Popen:
    """In its own session (so killpg reaches xdist workers), output to a file (no pipe to fill)."""
    with open(output, "w") as sink:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
    proc.output = output
    return proc


def start_bench(world, name: str, cache: Path, results: Path, workers: str = "0", **probe):
    log = world["root"] / f"{name}.log"
    proc = start(
        bench_cmd(world, results, workers), bench_env(world, cache, log, **probe), world["root"] / f"{name}.out"
    )
    return proc, log


def run_bench(world, name: str, cache: Path, results: Path, workers: str = "0") -> tuple[str, list[dict]]:
    proc, log = start_bench(world, name, cache, results, workers)
    proc.wait(timeout=600)
    out = proc.output.read_text()
    # wrong answers are the measurement: with the pass-rate gate at 0 only an errored case fails the run
    assert proc.returncode == 0, out[-4000:]
    return out, read_log(log)


def per_case(results: Path) -> dict[str, tuple]:
    (path,) = (results / "results").glob("*.json")
    data = json.loads(path.read_text())
    return {
        c["case_id"]: (
            c["outcome"],
            c["props"].get("prediction"),
            c["props"].get("reason"),
            c["skip_reason"],
            c["props"].get("raw_output"),
            c["props"].get("loglikelihoods"),
        )
        for c in data["cases"]
    }


def cache_rows(cache: Path) -> dict[str, str]:
    """key -> case_id of every committed row, read as a separate connection would."""
    db = cache / "predictions.sqlite"
    if not db.exists():
        return {}
    conn = sqlite3.connect(db, timeout=60)
    try:
        return dict(conn.execute("SELECT key, case_id FROM predictions"))
    finally:
        conn.close()


def integrity(db: Path) -> str:
    conn = sqlite3.connect(db, timeout=60)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


def is_spider(case_id: str) -> bool:
    return case_id.startswith(("shop-", "gone-"))


@pytest.fixture(scope="module")
def reference(world):
    """An uninterrupted `-n 0` run on its own cache."""
    results, cache = world["root"] / "ref-results", world["root"] / "ref-cache"
    out, log = run_bench(world, "ref", cache, results)
    cases = per_case(results)
    assert sum(is_spider(c) for c in cases) == N_SPIDER_DEV + 1
    assert sum(not is_spider(c) for c in cases) == N_MMLU
    assert [c for c, v in cases.items() if v[0] == "skipped"] == ["gone-0005"]
    assert all(v[2] for v in cases.values() if v[0] in ("passed", "failed"))  # every scored case has a reason
    spider = [v for c, v in cases.items() if is_spider(c) and v[0] != "skipped"]
    # real scoring: some queries run (and match or give wrong rows), some fail to parse
    reasons = {v[2].split(":")[0] for v in spider}
    assert "syntax error" in reasons and any(r.startswith(("wrong result", "match")) for r in reasons), reasons
    assert sum(bool(v[1]) for v in spider) >= N_SPIDER_DEV // 2  # most answers hold a SQL statement
    rows = cache_rows(cache)
    assert len(rows) == N_SPIDER_DEV + N_MMLU
    return {"cases": cases, "rows": rows, "out": out}


# ---------------------------------------------------------------- 1. SIGKILL of a benchmark run


def puts(log: Path, kind: str | None = None) -> list[str]:
    """Cache keys whose put_many committed, in the order reported."""
    return [k for r in read_log(log) if r["event"] == "put" and kind in (None, r["kind"]) for k in r["keys"]]


def assert_gone(log: Path, timeout: float = 10) -> None:
    """No process that wrote to the log survived the kill (xdist workers included)."""

    def alive(pid: int) -> bool:
        try:
            return "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()
        except OSError:
            return False

    deadline = time.monotonic() + timeout
    pids = {r["pid"] for r in read_log(log)}
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in pids if alive(pid)], "a process survived the SIGKILL"


@pytest.mark.slow
def test_sigkilled_benchmark_runs_resume_and_match_an_uninterrupted_run(world, reference, tmp_path):
    """Three kills on one cache (two `-n 0` runs, one `-n 2` run), then a `-n 2` run that completes.

    Also the determinism check: the final `-n 2` per-case results equal the `-n 0` reference's.
    """
    cache, results = tmp_path / "cache", tmp_path / "results"
    spider_keys = {k for k, c in reference["rows"].items() if is_spider(c)}

    # Kill 1: mid-Spider-generation, after two committed batches of 2 prompts.
    proc, log = start_bench(world, "kill1", cache, results, put_delay=0.4, delay_kind="spider")
    wait_then_kill(proc, lambda: len(puts(log)) >= 4, "two Spider batches")
    at_kill = cache_rows(cache)
    assert set(puts(log)) <= set(at_kill) <= spider_keys  # everything reported committed is there
    assert 4 <= len(at_kill) < len(spider_keys)
    assert not (results / "results").exists()  # a killed run publishes no results
    assert integrity(cache / "predictions.sqlite") == "ok"
    FIGURES.append(
        {
            "run": "benchmark -n 0",
            "killed": "mid Spider generation",
            "rows_at_kill": len(at_kill),
            "rows_total": len(reference["rows"]),
        }
    )

    # Kill 2: the rerun generates exactly the missing predictions, and is killed while scoring cases.
    proc, log = start_bench(world, "kill2", cache, results, case_delay=0.3)
    scored = lambda: [r for r in read_log(log) if r["event"] == "case"]  # noqa: E731
    wait_then_kill(proc, lambda: len(scored()) >= 3, "three scored Spider cases")
    assert sorted(puts(log)) == sorted(spider_keys - set(at_kill))  # the missing ones, once each
    FIGURES[-1]["next_run_generated"] = len(puts(log))
    assert set(cache_rows(cache)) == spider_keys
    assert 3 <= len(scored()) < N_SPIDER_DEV and all("test_spider.py" in r["nodeid"] for r in scored())
    assert integrity(cache / "predictions.sqlite") == "ok"
    FIGURES.append(
        {
            "run": "benchmark -n 0",
            "killed": f"while scoring Spider cases ({len(scored())} scored)",
            "rows_at_kill": len(cache_rows(cache)),
            "rows_total": len(reference["rows"]),
        }
    )

    # Kill 3, now under `-n 2` on the same cache: the whole process group (controller and both
    # workers), mid-MMLU-scoring. No Spider SQL is generated again.
    all_keys = set(reference["rows"])
    proc, log = start_bench(world, "kill3", cache, results, workers="2", put_delay=1.5, delay_kind="mmlu")
    wait_then_kill(proc, lambda: len(puts(log, "mmlu")) >= 1, "one MMLU batch")
    assert_gone(log)
    at_kill = cache_rows(cache)
    assert puts(log, "spider") == [] and set(puts(log)) <= set(at_kill)
    FIGURES[-1]["next_run_generated"] = len(puts(log))  # MMLU scores only
    assert spider_keys < set(at_kill) < all_keys
    assert integrity(cache / "predictions.sqlite") == "ok"
    FIGURES.append(
        {
            "run": "benchmark -n 2",
            "killed": "mid MMLU scoring (controller + 2 workers)",
            "rows_at_kill": len(at_kill),
            "rows_total": len(all_keys),
        }
    )

    # The last rerun (-n 2) computes exactly the missing MMLU scores and ends as the -n 0 reference did.
    out, records = run_bench(world, "final", cache, results, workers="2")
    generated = [k for r in records if r["event"] == "put" for k in r["keys"]]
    assert sorted(generated) == sorted(all_keys - set(at_kill))
    FIGURES[-1]["next_run_generated"] = len(generated)
    assert len({r["pid"] for r in records if r["event"] == "case"}) == 2  # both workers scored cases
    assert cache_rows(cache) == reference["rows"]  # no row lost, none duplicated
    assert per_case(results) == reference["cases"]
    assert integrity(cache / "predictions.sqlite") == "ok"
    FIGURES.append(
        {
            "run": "benchmark -n 2",
            "final": "completed",
            "rows": len(cache_rows(cache)),
            "rows_lost": 0,
            "cases": len(reference["cases"]),
            "identical_to_uninterrupted_n0_run": True,
        }
    )


# ---------------------------------------------------------------- 2. SIGKILL of a training run


def train_cmd(world, output_root: Path) -> list[str]:
    return [
        sys.executable,
        str(REPO / "train.py"),
        "--experiment",
        "v1",
        "--spider-dir",
        str(world["spider"]),
        "--experiments-file",
        str(world["experiments"]),
        "--output-root",
        str(output_root),
        "--max-steps",
        str(TRAIN_STEPS),
        "--save-steps",
        str(SAVE_STEPS),
    ]


def train_env(world, log: Path, **probe) -> dict[str, str]:
    env = dict(os.environ, **OFFLINE)
    env.update(
        PYTHONPATH=os.pathsep.join([str(world["probe"]), str(REPO)]),
        PROBE_TRAIN_LOG=str(log),
        PROBE_STEP_DELAY=str(probe.get("delay", 0)),
        PROBE_DELAY_FROM_STEP=str(probe.get("from_step", 0)),
        PROBE_SAVE_DELAY_AT_STEP=str(probe.get("save_at", 0)),
    )
    return env


def start_train(world, root: Path, log: Path, **probe) -> subprocess.Popen:
    return start(train_cmd(world, root), train_env(world, log, **probe), log.with_suffix(".out"))


def events(log: Path, kind: str) -> list[int]:
    return [r["step"] for r in read_log(log) if r["event"] == kind]


@pytest.mark.slow
def test_sigkilled_training_resumes_from_its_last_checkpoint_to_the_same_weights(world, tmp_path):
    """Killed between checkpoints, then killed again while writing a checkpoint; the run that
    completes ends with the weights of an uninterrupted run (the world's: the same command,
    in-process, never stopped), bit for bit."""
    import torch
    from safetensors.torch import load_file

    from tradeoff.training.trainer import latest_checkpoint

    root = tmp_path / "killed"
    run_dir, logs = root / "tiny" / "v1", [tmp_path / f"train{i}.log" for i in range(3)]
    first, second = f"checkpoint-{SAVE_STEPS}", f"checkpoint-{2 * SAVE_STEPS}"

    # Kill 1: step 11 done (checkpoint-10 written, checkpoint-20 not).
    proc = start_train(world, root, logs[0], delay=2.0, from_step=SAVE_STEPS + 1)
    wait_then_kill(proc, lambda: SAVE_STEPS + 1 in events(logs[0], "step"), f"training step {SAVE_STEPS + 1}")
    assert latest_checkpoint(run_dir / "checkpoints").name == first
    assert not (run_dir / "adapter").exists()  # a killed run publishes nothing
    FIGURES.append({"run": "train.py", "killed": f"between checkpoints, after step {max(events(logs[0], 'step'))}"})

    # Kill 2: the rerun resumes from checkpoint-10 and is killed while writing checkpoint-20
    # (its weights and optimizer are on disk, its trainer_state.json is not).
    proc = start_train(world, root, logs[1], delay=30.0, save_at=2 * SAVE_STEPS)
    wait_then_kill(proc, lambda: events(logs[1], "saving"), f"the save of {second}")
    assert events(logs[1], "step") == list(range(SAVE_STEPS + 1, 2 * SAVE_STEPS + 1))  # resumed at 11
    partial = run_dir / "checkpoints" / second
    assert (partial / "adapter_model.safetensors").is_file() and not (partial / "trainer_state.json").exists()
    assert latest_checkpoint(run_dir / "checkpoints").name == first  # the half-written one is passed over
    FIGURES.append({"run": "train.py", "killed": f"while writing {second}", "resumed_from": first})

    resumed = subprocess.run(
        train_cmd(world, root), cwd=REPO, env=train_env(world, logs[2]), capture_output=True, text=True, timeout=300
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resuming from {first}" in resumed.stdout
    assert events(logs[2], "step") == list(range(SAVE_STEPS + 1, TRAIN_STEPS + 1))
    run = json.loads((run_dir / "run.json").read_text())
    assert run["training"]["resumed_from"].endswith(first)
    assert (
        run["training"]["steps_this_run"] == TRAIN_STEPS - SAVE_STEPS and run["training"]["global_step"] == TRAIN_STEPS
    )
    assert [p["step"] for p in json.loads((run_dir / "loss.json").read_text())] == list(range(1, TRAIN_STEPS + 1))
    assert latest_checkpoint(run_dir / "checkpoints").name == f"checkpoint-{TRAIN_STEPS}"

    resumed_w = load_file(run_dir / "adapter" / "adapter_model.safetensors")
    straight_w = load_file(world["sql_adapter"] / "adapter_model.safetensors")
    assert resumed_w.keys() == straight_w.keys() and resumed_w
    for name in resumed_w:
        assert torch.equal(resumed_w[name], straight_w[name]), name  # bit for bit
    FIGURES.append(
        {
            "run": "train.py",
            "final": "completed",
            "resumed_from": first,
            "steps_resumed": TRAIN_STEPS - SAVE_STEPS,
            "weights_identical": True,
        }
    )


# ---------------------------------------------------------------- 3. the cache under concurrency and kills

WRITER = textwrap.dedent("""
    import sys
    from tradeoff.inference.cache import PredictionCache
    db, tag, batches, size, pad = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    cache = PredictionCache(db)
    for b in range(batches):
        cache.put_many("m", [(f"{tag}-{b}-{i}", f"{tag}-{b}", {"v": [tag, b, i], "pad": "x" * pad}) for i in range(size)])
        print(b, flush=True)  # batch b committed
    cache.close()
""")


def start_writer(db: Path, tag: str, batches: int, size: int, pad: int = 10) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db), tag, str(batches), str(size), str(pad)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
    )


def check_batches(db: Path, tag: str, size: int, committed: int, batches: int) -> int:
    """Every batch reported committed is whole and readable; any other batch is whole or absent."""
    from tradeoff.inference.cache import PredictionCache

    cache = PredictionCache(db)
    try:
        present = 0
        for b in range(batches):
            keys = [f"{tag}-{b}-{i}" for i in range(size)]
            got = cache.get_many(keys)
            if b < committed:
                assert len(got) == size, (tag, b, len(got))
            assert len(got) in (0, size), (tag, b, len(got))  # all or nothing
            for i, key in enumerate(keys):
                if key in got:
                    assert got[key]["v"] == [tag, b, i]
            present += len(got) // size
        return present
    finally:
        cache.close()


def test_cache_survives_concurrent_writers_and_a_writer_killed_mid_transaction(tmp_path):
    db = tmp_path / "cache" / "predictions.sqlite"
    writers = {f"w{n}": start_writer(db, f"w{n}", batches=40, size=25) for n in range(4)}
    victim = start_writer(db, "victim", batches=10_000, size=400, pad=2000)  # ~1 MB per transaction
    committed = 0
    while committed < 5:  # kill it while it keeps writing, most likely inside a transaction
        line = victim.stdout.readline()
        assert line, victim.stderr.read()
        committed = int(line) + 1
    time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    assert victim.returncode == -signal.SIGKILL
    committed = max(committed, *(int(x) + 1 for x in victim.stdout.read().split() or ["-1"]))
    for proc in writers.values():
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-2000:]
        assert out.split() == [str(b) for b in range(40)]
    assert integrity(db) == "ok"
    for tag in writers:
        assert check_batches(db, tag, 25, committed=40, batches=40) == 40
    present = check_batches(db, "victim", 400, committed=committed, batches=committed + 2)
    assert present in (committed, committed + 1)  # the killed transaction is whole or absent
    total = cache_rows(db.parent)
    assert len(total) == 4 * 40 * 25 + present * 400
    FIGURES.append(
        {
            "run": "cache writers",
            "writers": 4,
            "put_many_each": 40,
            "victim_committed": committed,
            "victim_present": present,
            "rows": len(total),
            "integrity": "ok",
            "rows_lost": 0,
        }
    )
