"""Bad input through the real entry points, as a user types them: one clear line, nothing lost.

Every case runs a real command in a subprocess (`python -m pytest tests/spider ...`,
`python train.py`, `python -m reports.compare`, `python -m tradeoff.suites.spider.prepare`) and
checks: a non-zero exit, exactly one error line naming the problem (`ERROR:` for a pytest
usage error, `error:` for the other commands and for a fault in the middle of a benchmark
run), no Python traceback, and that earlier results and caches are untouched.

Where the problem is one database of the dataset (a file that is not SQLite, a database
without a schema in tables.json) the run is not stopped: those cases are skipped with a
"dataset error" reason and counted apart, exactly like a missing database file, never charged
to the model. A gold query that fails on its database is a data fault the selection cannot
see in advance: it stops the run with one `error:` line, so that no model's scored set depends
on it (or on how loaded the machine was when it ran).

The model is a saved tiny random Llama (a folder, `--model <path>`), so nothing is downloaded
and generation takes milliseconds.

A full disk is simulated honestly at the SQLite boundary: the subprocess loads a pytest plugin
(`-p`, from PYTHONPATH) that gives connections to predictions.sqlite a Connection subclass
whose writes raise sqlite3.OperationalError("database or disk is full"), the error SQLite
raises on SQLITE_FULL; the product code is not patched. A read-only results directory cannot
be made with chmod here (the tests may run as root, which ignores permission bits), so it is a
path under a regular file; with a non-root user a chmod 555 folder is checked too.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
OFFLINE = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "DEEPEVAL_TELEMETRY_OPT_OUT": "1",
    "TOKENIZERS_PARALLELISM": "false",
}

from synthetic_spider import make_spider_dir  # noqa: E402

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

EXPERIMENTS = """
[defaults]
base_model = "tiny"
[base_models.tiny]
source = "{tiny}"
[experiments.base]
train = false
spider_shots = 1
[experiments.v1]
learning_rate = 2e-2
[training]
lora_r = 2
batch_size = 2
max_seq_length = 512
"""

DISK_FULL_PLUGIN = '''
"""Loaded with `-p disk_full_probe`: the prediction cache's disk is full (reads still work)."""
import sqlite3

_connect = sqlite3.connect


def _check(sql):
    if sql.lstrip().lower().startswith(("insert", "replace", "update")):
        raise sqlite3.OperationalError("database or disk is full")  # what SQLITE_FULL reads as


class FullCursor(sqlite3.Cursor):
    def execute(self, sql, *args):
        _check(sql)
        return super().execute(sql, *args)

    def executemany(self, sql, *args):
        _check(sql)
        return super().executemany(sql, *args)


class FullDisk(sqlite3.Connection):
    def cursor(self, factory=FullCursor):
        return super().cursor(factory)

    def execute(self, sql, *args):
        _check(sql)
        return super().execute(sql, *args)

    def executemany(self, sql, *args):
        _check(sql)
        return super().executemany(sql, *args)


def connect(database, *args, **kwargs):
    if str(database).endswith("predictions.sqlite"):
        kwargs["factory"] = FullDisk
    return _connect(database, *args, **kwargs)


sqlite3.connect = connect
'''


def save_tiny_model(path: Path) -> Path:
    """A 1-layer random Llama with a byte-level BPE and a ChatML template, saved as a checkpoint."""
    import torch
    import transformers
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tok.train_from_iterator(
        ["SELECT name FROM item WHERE price > 2"] * 4,
        trainers.BpeTrainer(
            vocab_size=300,
            special_tokens=specials,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        ),
    )
    fast = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<|im_start|>", eos_token="<|im_end|>", pad_token="<|endoftext|>"
    )
    fast.chat_template = CHATML
    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=len(fast),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        pad_token_id=fast.pad_token_id,
        eos_token_id=fast.eos_token_id,
        bos_token_id=fast.bos_token_id,
    )
    transformers.LlamaForCausalLM(config).save_pretrained(path)
    fast.save_pretrained(path)
    return path


def add_dataset_errors(spider: Path) -> None:
    """Two more kinds of unscorable case beside make_spider_dir's missing database `gone`."""
    junk = spider / "database" / "junk"
    junk.mkdir(parents=True)
    (junk / "junk.sqlite").write_bytes(b"these bytes are no SQLite database\n" * 100)
    nodesc = spider / "database" / "undescribed"
    nodesc.mkdir(parents=True)
    conn = sqlite3.connect(nodesc / "undescribed.sqlite")
    conn.execute("CREATE TABLE t(a INTEGER)")
    conn.commit()
    conn.close()
    tables = json.loads((spider / "tables.json").read_text())
    junk_schema = dict(tables[1], db_id="junk")  # a schema is there; the file is not a database
    (spider / "tables.json").write_text(json.dumps(tables + [junk_schema]))
    dev = json.loads((spider / "dev.json").read_text())
    sql = dev[0]["sql"]
    dev += [
        {"db_id": "junk", "question": "How many t?", "query": "SELECT count(*) FROM t", "sql": sql},
        {"db_id": "undescribed", "question": "How many t?", "query": "SELECT count(*) FROM t", "sql": sql},
    ]
    (spider / "dev.json").write_text(json.dumps(dev))


def add_failing_gold(spider: Path) -> str:
    """A dev case whose gold query fails on its (sound) database; returns its case id."""
    dev = json.loads((spider / "dev.json").read_text())
    dev.append(
        {"db_id": "shop", "question": "Broken gold?", "query": "SELECT no_such_column FROM item", "sql": dev[0]["sql"]}
    )
    (spider / "dev.json").write_text(json.dumps(dev))
    return f"shop-{len(dev) - 1:04d}"


def label_of(model: str) -> str:
    """The results file name the benchmark uses for a --model value (tradeoff/config/run_options.py)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", model).strip("_") or "model"


def tree_digest(*roots: Path) -> dict[str, str]:
    """Every file under the roots with its sha256: 'nothing lost' is this being unchanged."""
    out = {}
    for root in roots:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            out[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad_input")
    spider = make_spider_dir(root / "spider")
    tiny = save_tiny_model(root / "tiny")
    experiments = root / "experiments.toml"
    experiments.write_text(EXPERIMENTS.format(tiny=tiny))
    # earlier results and an earlier cache that no failing run may touch
    out, cache = root / "out", root / "cache"
    (out / "results").mkdir(parents=True)
    (out / "results" / f"{label_of(str(tiny))}.json").write_text('{"earlier": "results"}\n')
    cache.mkdir()
    conn = sqlite3.connect(cache / "predictions.sqlite")
    conn.execute("CREATE TABLE earlier(x)")
    conn.commit()
    conn.close()
    probe = root / "probe"
    probe.mkdir()
    (probe / "disk_full_probe.py").write_text(DISK_FULL_PLUGIN)
    return {
        "root": root,
        "spider": spider,
        "tiny": tiny,
        "experiments": experiments,
        "out": out,
        "cache": cache,
        "probe": probe,
    }


def env_for(world, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "TRADEOFF_", "SPIDER_DIR", "MMLU_DIR"))}
    env.update(
        OFFLINE,
        TRADEOFF_CACHE_DIR=str(world["cache"]),
        TRADEOFF_MODELS_DIR=str(world["root"] / "models"),
        TRADEOFF_OUTPUT_DIR=str(world["out"]),
        TRADEOFF_CONVERTED_DIR=str(world["root"] / "converted"),
        TRADEOFF_EXPERIMENTS=str(world["experiments"]),
    )
    env.update(extra)
    return env


def run(args: list[str], env: dict[str, str], timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


def bench(world, *args: str, suite: str = "tests/spider", env: dict[str, str] | None = None, model: str | None = None):
    cmd = [
        "-m",
        "pytest",
        suite,
        "-p",
        "no:cacheprovider",
        "-n",
        "0",
        "-q",
        "--model",
        model or str(world["tiny"]),
        "--spider-dir",
        str(world["spider"]),
        "--results-dir",
        str(world["out"]),
        "--max-new-tokens",
        "8",
        *args,
    ]
    return run(cmd, env or env_for(world))


def one_error_line(proc: subprocess.CompletedProcess, needle: str, prefix: str = "error:") -> str:
    """Non-zero exit, no traceback, exactly one line starting with `prefix`, and it names the problem."""
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0, text[-3000:]
    assert "Traceback" not in text and "INTERNALERROR" not in text, text[-3000:]
    lines = [line for line in text.splitlines() if line.startswith(prefix)]
    assert len(lines) == 1, text[-3000:]
    assert needle in lines[0], text[-3000:]
    return lines[0]


# ---------------------------------------------------------------- the benchmark: usage errors before any work


def _bad_spider(root: Path, kind: str) -> Path:
    spider = root / f"spider-{kind}"
    if kind == "missing":
        return spider
    make_spider_dir(spider)
    if kind == "dev-not-json":
        (spider / "dev.json").write_text('[{"db_id": "shop", "question": ')
    elif kind == "dev-not-a-list":
        (spider / "dev.json").write_text('{"db_id": "shop"}')
    elif kind == "dev-entry-lacks-query":
        (spider / "dev.json").write_text('[{"db_id": "shop", "question": "q?"}]')
    elif kind == "tables-malformed":
        (spider / "tables.json").write_text('[{"db_id": "shop"}]')
    elif kind == "no-tables":
        (spider / "tables.json").unlink()
    elif kind == "train-not-json":  # the few-shot examples come from it
        (spider / "train_spider.json").write_bytes(b"\xff\xfe not json")
    return spider


@pytest.mark.parametrize(
    "kind, needle",
    [
        ("missing", "Spider data directory not found"),
        ("dev-not-json", "dev.json is not valid JSON"),
        ("dev-not-a-list", "dev.json must hold a JSON list"),
        ("dev-entry-lacks-query", "dev.json entry 0 lacks string db_id/question/query"),
        ("tables-malformed", "tables.json is not in the tables.json format"),
        ("no-tables", "lacks tables.json"),
        ("train-not-json", "train_spider.json is not valid JSON"),
    ],
)
def test_missing_or_malformed_spider_data_is_one_usage_error(world, tmp_path, kind, needle):
    before = tree_digest(world["out"], world["cache"])
    spider = _bad_spider(tmp_path, kind)
    proc = bench(world, "--spider-dir", str(spider))
    one_error_line(proc, needle, prefix="ERROR:")
    assert proc.returncode == 4  # pytest's usage-error status
    assert tree_digest(world["out"], world["cache"]) == before


def test_too_many_few_shot_examples_for_the_train_split_is_one_usage_error(world):
    one_error_line(bench(world, "--spider-shots", "9"), "--spider-shots 9: the train split", prefix="ERROR:")


def test_zero_shots_need_no_train_split(tmp_path):
    """In-process (a subprocess would only add start-up time): prompts without few-shot
    examples never read train_spider.json, so a dev-only copy of Spider is enough."""
    from tradeoff.suites.spider.data import SpiderData
    from tradeoff.suites.spider.jobs import select_cases, spider_jobs

    spider = make_spider_dir(tmp_path / "spider")
    (spider / "train_spider.json").unlink()
    data = SpiderData(spider)
    cases = [case for case, skip in select_cases(data) if not skip]
    jobs = spider_jobs(data, cases, None, "model-key", 0, 8, 4)  # no tokenizer: the plain prompt fallback
    assert [job.case_id for job in jobs] == ["shop-0000", "shop-0001", "shop-0003"]


def _bad_mmlu(root: Path, kind: str) -> Path:
    mmlu = root / f"mmlu-{kind}"
    if kind == "missing":
        return mmlu
    for split in ("test", "dev"):
        (mmlu / split).mkdir(parents=True)
        (mmlu / split / f"virology_{split}.csv").write_text("What is a virus?,a,b,c,d,A\n" * 5)
    if kind == "five-columns":
        (mmlu / "test" / "virology_test.csv").write_text("What is a virus?,a,b,c,d,A\nWhat is a cell?,a,b,c,A\n")
    elif kind == "bad-answer":
        (mmlu / "test" / "virology_test.csv").write_text("What is a virus?,a,b,c,d,E\n")
    elif kind == "dev-seven-columns":
        (mmlu / "dev" / "virology_dev.csv").write_text("q,a,b,c,d,A,extra\n")
    return mmlu


@pytest.mark.parametrize(
    "kind, needle",
    [
        ("missing", "MMLU folder not found"),
        ("five-columns", "virology_test.csv: row 2: expected 6 columns (question,A,B,C,D,answer), got 5"),
        ("bad-answer", "answer must be one of A-D"),
        ("dev-seven-columns", "virology_dev.csv: row 1: expected 6 columns"),
    ],
)
def test_missing_or_malformed_mmlu_data_is_one_usage_error(world, tmp_path, kind, needle):
    proc = bench(world, "--mmlu-dir", str(_bad_mmlu(tmp_path, kind)), "--mmlu-subjects", "virology", suite="tests/mmlu")
    one_error_line(proc, needle, prefix="ERROR:")
    assert proc.returncode == 4


def test_unknown_model_is_one_usage_error(world):
    before = tree_digest(world["out"], world["cache"])
    proc = bench(world, model="no-such-model")
    one_error_line(proc, "unknown --model 'no-such-model'", prefix="ERROR:")
    assert tree_digest(world["out"], world["cache"]) == before


def test_an_adapter_of_another_base_model_is_refused_before_any_work(world, tmp_path):
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(
        json.dumps({"peft_type": "LORA", "r": 2, "target_modules": ["q_proj"]})
    )
    (adapter / "tradeoff_adapter.json").write_text(
        json.dumps({"base": "/elsewhere/other-base", "base_fingerprint": "0" * 64})
    )
    before = tree_digest(world["out"], world["cache"])
    proc = bench(world, model=str(adapter))
    line = one_error_line(proc, "was trained on base '/elsewhere/other-base'", prefix="ERROR:")
    assert str(world["tiny"]) in line  # and names the base model it was given
    assert "loading" not in proc.stderr  # refused before the model is loaded
    assert tree_digest(world["out"], world["cache"]) == before
    (adapter / "tradeoff_adapter.json").write_text("{truncated")
    one_error_line(bench(world, model=str(adapter)), "tradeoff_adapter.json is unreadable", prefix="ERROR:")


def test_a_corrupt_adapter_config_is_one_usage_error(world, tmp_path):
    adapter = tmp_path / "foreign-adapter"  # e.g. downloaded, so no tradeoff_adapter.json
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text('{"peft_type": "LORA", "r": ')
    proc = bench(world, model=str(adapter))
    one_error_line(proc, "adapter_config.json is not a valid peft config", prefix="ERROR:")
    assert proc.returncode == 4 and "loading" not in proc.stderr


@pytest.mark.parametrize(
    "text, needle",
    [
        ("[defaults\nbase_model = 'tiny'\n", "invalid TOML"),
        (
            "[defaults]\nbase_model = 'tiny'\n[base_models.tiny]\nsource = '{tiny}'\n[evaluation]\nbatch_size = 'eight'\n",
            "evaluation.batch_size: expected int, got 'eight'",
        ),
        (
            "[defaults]\nbase_model = 'tiny'\n[base_models.tiny]\nsource = '{tiny}'\n[evaluation]\nbatchsize = 8\n",
            "evaluation: unknown key(s) ['batchsize']",
        ),
        (
            "[defaults]\nbase_model = 'tiny'\n[base_models.tiny]\nsource = '{tiny}'\n[evaluations]\n",
            "unknown section(s) ['evaluations']",
        ),
        (
            "[defaults]\nbase_model = 'tiny'\n[base_models.tiny]\nsource = '{tiny}'\n[experiments.base]\ntrain = 'no'\n",
            "experiments.base.train: expected true/false",
        ),
    ],
    ids=["syntax", "wrong-type", "unknown-key", "unknown-section", "wrong-type-train"],
)
def test_malformed_experiments_file_is_one_usage_error(world, tmp_path, request, text, needle):
    bad = tmp_path / "experiments.toml"
    bad.write_text(text.format(tiny=world["tiny"]))
    if request.node.callspec.id in ("syntax", "unknown-key", "wrong-type-train"):  # $TRADEOFF_EXPERIMENTS
        proc = bench(world, env=env_for(world, TRADEOFF_EXPERIMENTS=str(bad)))
    else:
        proc = bench(world, "--experiments", str(bad))
    assert str(bad) in one_error_line(proc, needle, prefix="ERROR:")


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--limit", "0"], "--limit must be >= 1, got 0"),
        (["--limit", "-3"], "--limit must be >= 1, got -3"),
        (["--batch-size", "0"], "--batch-size must be >= 1, got 0"),
        (["--max-new-tokens", "0"], "--max-new-tokens must be >= 1, got 0"),
        (["--query-timeout", "-1"], "--query-timeout must be > 0, got -1.0"),
        (["--query-timeout", "0"], "--query-timeout must be > 0, got 0.0"),
        (["--max-rows", "0"], "--max-rows must be >= 1, got 0"),
        (["--min-pass-rate", "2"], "--min-pass-rate must be between 0 and 1, got 2.0"),
        (["--spider-shots", "-1"], "--spider-shots must be >= 0, got -1"),
    ],
)
def test_out_of_range_options_are_one_usage_error(world, args, needle):
    before = tree_digest(world["out"], world["cache"])
    proc = bench(world, *args)
    one_error_line(proc, needle, prefix="ERROR:")
    assert proc.returncode == 4
    assert tree_digest(world["out"], world["cache"]) == before


def test_unwritable_results_dir_is_refused_before_any_work(world, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    proc = bench(world, "--results-dir", str(blocker / "out"))
    one_error_line(proc, f"cannot be created, {blocker} is not a directory", prefix="ERROR:")
    assert "loading" not in proc.stderr and blocker.read_text() == "not a folder"
    one_error_line(bench(world, "--results-dir", str(blocker)), "exists and is not a directory", prefix="ERROR:")


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores permission bits: covered by the path under a file above")
def test_read_only_results_dir_is_refused(world, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        one_error_line(bench(world, "--results-dir", str(locked / "out")), "is not writable", prefix="ERROR:")
    finally:
        locked.chmod(0o755)


# ---------------------------------------------------------------- the benchmark: faults and dataset errors in a run


def test_dataset_errors_are_skipped_with_their_reason_and_counted_apart(world, tmp_path):
    spider = make_spider_dir(tmp_path / "spider")
    add_dataset_errors(spider)
    out = tmp_path / "out"
    proc = bench(
        world,
        "--spider-dir",
        str(spider),
        "--results-dir",
        str(out),
        env=env_for(world, TRADEOFF_CACHE_DIR=str(tmp_path / "cache")),
    )
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0, text[-3000:]  # the measurement ran; dataset errors fail no run
    assert "Traceback" not in text and "INTERNALERROR" not in text
    results = json.loads((out / "results" / f"{label_of(str(world['tiny']))}.json").read_text())
    cases = {c["case_id"]: c for c in results["cases"]}
    reasons = {case_id: c["skip_reason"] for case_id, c in cases.items() if c["outcome"] == "skipped"}
    assert reasons["gone-0002"].startswith("missing database: database gone is missing")
    assert reasons["junk-0004"] == (
        f"dataset error (not scored): database file {spider / 'database' / 'junk' / 'junk.sqlite'} is not SQLite"
    )
    assert reasons["undescribed-0005"].startswith("dataset error (not scored): database 'undescribed' has no schema")
    assert sorted(reasons) == ["gone-0002", "junk-0004", "undescribed-0005"]
    spider_suite = results["suites"]["spider"]
    assert spider_suite["overall"]["scored"] == 3 and spider_suite["errors"] == 0  # only the 3 sound shop cases
    assert spider_suite["skipped"]["count"] == 3
    assert "failed" not in {cases[c]["outcome"] for c in reasons}  # never charged to the model
    assert "skipped: 3" in proc.stdout


def test_a_failing_gold_query_stops_the_run_with_one_line(world, tmp_path):
    spider = make_spider_dir(tmp_path / "spider")
    case_id = add_failing_gold(spider)
    out = tmp_path / "out"
    previous = out / "results" / f"{label_of(str(world['tiny']))}.json"
    previous.parent.mkdir(parents=True)
    previous.write_text('{"earlier": "results"}\n')
    proc = bench(
        world,
        "--spider-dir",
        str(spider),
        "--results-dir",
        str(out),
        env=env_for(world, TRADEOFF_CACHE_DIR=str(tmp_path / "cache")),
    )
    line = one_error_line(proc, f"Spider data fault in {case_id}")
    assert "gold query failed on shop.sqlite" in line and "no_such_column" in line
    assert proc.returncode == 1
    assert "run stopped by the error above" in proc.stdout
    assert previous.read_text() == '{"earlier": "results"}\n'  # a stopped run replaces no results


def test_a_full_disk_under_the_prediction_cache_is_one_line_and_loses_nothing(world, tmp_path):
    from tradeoff.inference.cache import PredictionCache

    cache_dir, out = tmp_path / "cache", tmp_path / "out"
    cache = PredictionCache(cache_dir / "predictions.sqlite")
    earlier = [(f"earlier-{i}", f"case-{i}", f"SELECT {i}") for i in range(5)]
    cache.put_many("earlier-model", earlier)
    cache.close()
    previous = out / "results" / f"{label_of(str(world['tiny']))}.json"
    previous.parent.mkdir(parents=True)
    previous.write_text('{"earlier": "results"}\n')

    env = env_for(world, TRADEOFF_CACHE_DIR=str(cache_dir), PYTHONPATH=str(world["probe"]))
    proc = bench(world, "-p", "disk_full_probe", "--results-dir", str(out), env=env)
    line = one_error_line(proc, "database or disk is full")
    assert (
        line == f"error: prediction cache {cache_dir / 'predictions.sqlite'}: cannot write (database or disk is full)"
    )
    assert proc.returncode == 1
    assert re.search(r"\b1 error\b", proc.stdout), proc.stdout[-2000:]  # the run stopped at the first case
    assert "run stopped by the error above" in proc.stdout
    assert previous.read_text() == '{"earlier": "results"}\n'  # a stopped run replaces no results

    conn = sqlite3.connect(cache_dir / "predictions.sqlite")
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        rows = conn.execute("SELECT key, case_id, value FROM predictions ORDER BY key").fetchall()
    finally:
        conn.close()
    assert rows == [(key, case_id, json.dumps(value)) for key, case_id, value in earlier]


# ---------------------------------------------------------------- train.py


def test_train_on_malformed_spider_data_is_one_line(world, tmp_path):
    spider = _bad_spider(tmp_path, "train-not-json")
    models = tmp_path / "models"
    proc = run(
        ["train.py", "--experiment", "v1", "--spider-dir", str(spider), "--output-root", str(models)], env_for(world)
    )
    one_error_line(proc, "train_spider.json is not valid JSON")
    assert proc.returncode == 2
    assert not models.exists() or not list(models.rglob("adapter_config.json"))


# ---------------------------------------------------------------- reports.compare


def test_compare_without_results_is_one_line(world, tmp_path):
    proc = run(
        ["-m", "reports.compare", "--results-dir", str(tmp_path / "nothing"), "--resamples", "10"], env_for(world)
    )
    one_error_line(proc, "no results JSON under")
    assert proc.returncode == 2


def test_compare_names_a_malformed_results_file_and_fails(world, tmp_path):
    (tmp_path / "results").mkdir()
    bad = tmp_path / "results" / "base.json"
    bad.write_text('{"suites": {"spider": ')
    proc = run(["-m", "reports.compare", "--results-dir", str(tmp_path), "--resamples", "10"], env_for(world))
    one_error_line(proc, "no results JSON under")
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and f"skipping unreadable results file {bad}" in warnings[0], proc.stderr
    assert bad.read_text() == '{"suites": {"spider": '


def test_compare_bad_options_and_unwritable_output_are_one_line(world, tmp_path):
    fixtures = REPO / "tests" / "helpers" / "fixtures_results"
    proc = run(["-m", "reports.compare", "--results-dir", str(fixtures), "--resamples", "0"], env_for(world))
    one_error_line(proc, "argument --resamples: must be >= 1, got 0", prefix="python -m reports.compare: error:")
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    before = tree_digest(fixtures)
    proc = run(
        [
            "-m",
            "reports.compare",
            "--results-dir",
            str(fixtures),
            "--out",
            str(blocker / "report"),
            "--training-dir",
            str(fixtures / "training"),
            "--resamples",
            "10",
        ],
        env_for(world),
    )
    one_error_line(proc, f"cannot write the report under {blocker / 'report'}: Not a directory")
    assert tree_digest(fixtures) == before


# ---------------------------------------------------------------- tradeoff.suites.spider.prepare


def test_prepare_spider_bad_archives_are_one_line_and_replace_nothing(world, tmp_path):
    out = tmp_path / "spider"
    not_zip = tmp_path / "spider.zip"
    not_zip.write_bytes(b"PK? no, just bytes")
    proc = run(["-m", "tradeoff.suites.spider.prepare", "--archive", str(not_zip), "--out", str(out)], env_for(world))
    one_error_line(proc, "is not a zip archive")
    assert not out.exists()

    source = make_spider_dir(tmp_path / "release" / "spider")
    (source / "dev.json").write_text("[{")
    archive = tmp_path / "bad-dev.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in source.rglob("*"):
            if path.is_file():
                zf.write(path, str(path.relative_to(source.parent)))
    existing = make_spider_dir(tmp_path / "existing")
    before = tree_digest(existing)
    proc = run(
        ["-m", "tradeoff.suites.spider.prepare", "--archive", str(archive), "--out", str(existing), "--force"],
        env_for(world),
    )
    line = one_error_line(proc, "dev.json is not valid JSON")
    assert str(archive) in line and ".spider-" not in line  # names the archive, not a vanished staging folder
    assert tree_digest(existing) == before  # --force replaces only after the new copy validated

    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    good = tmp_path / "good.zip"
    with zipfile.ZipFile(good, "w") as zf:
        zf.write(existing / "tables.json", "spider/tables.json")
        zf.write(existing / "dev.json", "spider/dev.json")
    proc = run(
        ["-m", "tradeoff.suites.spider.prepare", "--archive", str(good), "--out", str(blocker / "spider")],
        env_for(world),
    )
    one_error_line(proc, f"cannot write {blocker / 'spider'}")
