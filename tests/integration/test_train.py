"""train.py: data formatting and label masking, a real (tiny) LoRA training run, resume, outputs,
and the one-line errors. Runs offline on CPU: the base model is a tiny random Llama with a
tokenizer built here from scratch, so nothing is downloaded and a training step takes
milliseconds, while every code path is the one a real run takes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from tradeoff.config.experiments import ModelChoice, load_registry, resolve_model  # noqa: E402
from tradeoff.errors import UserError  # noqa: E402
from tradeoff.models.identity import ADAPTER_META, base_identity, check_adapter_base  # noqa: E402
from tradeoff.models.loading import load_model  # noqa: E402
from tradeoff.suites.spider.data import SpiderData, sha256_file  # noqa: E402
from tradeoff.suites.spider.prompts import SYSTEM_PROMPT, normalize_sql, user_message  # noqa: E402
from tradeoff.training.data import (  # noqa: E402
    IGNORE_INDEX,
    PadCollator,
    build_training_set,
    conversation_texts,
    encode,
    select_examples,
)
from tradeoff.training.outputs import publish_adapter  # noqa: E402
from tradeoff.training.trainer import latest_checkpoint, precision, train  # noqa: E402

REPO = Path(__file__).resolve().parents[2]

from synthetic_spider import make_spider_dir  # noqa: E402

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def build_tokenizer(data: SpiderData):
    """A byte-level BPE trained on the synthetic Spider text, with a ChatML template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    corpus = [SYSTEM_PROMPT]
    for ex in data.train() + data.dev:
        corpus += [user_message(data.schema(ex.db_id), ex.question), normalize_sql(ex.query)]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tok.train_from_iterator(
        corpus * 4,
        trainers.BpeTrainer(
            vocab_size=600, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
        ),
    )
    fast = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<|im_start|>", eos_token="<|im_end|>", pad_token="<|endoftext|>"
    )
    fast.chat_template = CHATML
    return fast


def make_tiny_model(path: Path, tokenizer, rms_norm_eps: float = 1e-6) -> Path:
    """A 2-layer random Llama (~60k parameters) saved like any checkpoint, tokenizer included."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        rms_norm_eps=rms_norm_eps,
        initializer_range=0.1,  # big enough weights that LoRA on q/v visibly moves the logits
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id,
    )
    LlamaForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


EXPERIMENTS = """
[defaults]
base_model = "tiny"
[base_models.tiny]
source = "{tiny}"
[base_models.other]
source = "{other}"
[experiments.base]
train = false
spider_shots = 4
[experiments.v1]
learning_rate = 2e-2
[experiments.wrong_modules]
target_modules = ["no_such_proj"]
[experiments.snap]
learning_rate = 2e-2
snapshots = 3
[training]
lora_r = 8
lora_alpha = 16
lora_dropout = 0.05
target_modules = ["q_proj", "v_proj"]
batch_size = 2
epochs = 1
max_seq_length = 512
warmup_ratio = 0.0
seed = 7
train_files = ["train_spider.json"]
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Synthetic Spider, two tiny bases that differ only in config, and an experiments file."""
    root = tmp_path_factory.mktemp("train")
    spider = make_spider_dir(root / "spider")
    tokenizer = build_tokenizer(SpiderData(spider))
    tiny = make_tiny_model(root / "tiny", tokenizer)
    other = make_tiny_model(root / "other", tokenizer, rms_norm_eps=1e-5)  # same shapes, other base
    experiments = root / "experiments.toml"
    experiments.write_text(EXPERIMENTS.format(tiny=tiny, other=other))
    return {
        "root": root,
        "spider": spider,
        "tokenizer": tokenizer,
        "tiny": tiny,
        "other": other,
        "experiments": experiments,
    }


def mean_loss(model, features) -> float:
    batch = PadCollator(0)(features)
    with torch.no_grad():
        return float(model(**batch).loss)


@pytest.fixture(scope="module")
def trained(world):
    """One real training run, shared by the assertions on its outputs."""
    adapter = train(
        "v1",
        spider_dir=world["spider"],
        output_root=world["root"] / "models",
        experiments_file=world["experiments"],
        max_steps=12,
    )
    return adapter


# ---------------------------------------------------------------- data and label masking


def test_labels_cover_exactly_the_answer_and_its_end_of_turn(world):
    tok, data = world["tokenizer"], SpiderData(world["spider"])
    built = build_training_set(data, tok, ["train_spider.json"], max_seq_length=512, seed=1)
    assert built.stats["used"] == 3 and built.stats["inexact_prompt_split"] == 0
    by_answer = {}
    for feature in built.features:
        ids, labels = feature["input_ids"], feature["labels"]
        first = next(i for i, x in enumerate(labels) if x != IGNORE_INDEX)
        assert all(x == IGNORE_INDEX for x in labels[:first])
        assert labels[first:] == ids[first:]  # everything after the prompt is learnt
        assert tok.convert_tokens_to_ids("<|im_end|>") in labels[first:]
        by_answer[tok.decode(labels[first:])] = tok.decode(ids[:first])
    for ex in data.train():
        prompt, _ = conversation_texts(tok, data, ex)
        answer = normalize_sql(ex.query) + "<|im_end|>\n"
        assert by_answer[answer] == prompt  # the masked part is the evaluation prompt, to the letter
        assert prompt.endswith("<|im_start|>assistant\n") and ex.question in prompt


class MergingTokenizer:
    """Characters as tokens, but a newline merges with the next character, like a BPE merge across
    the prompt/answer boundary: the prompt's tokens are then no prefix of the whole's."""

    def __init__(self, is_fast: bool) -> None:
        self.is_fast = is_fast
        self.vocab: dict[str, int] = {}

    def __call__(self, text: str, add_special_tokens: bool = False, return_offsets_mapping: bool = False):
        ids, offsets, i = [], [], 0
        while i < len(text):
            n = 2 if text[i] == "\n" and i + 1 < len(text) else 1
            ids.append(self.vocab.setdefault(text[i : i + n], len(self.vocab)))
            offsets.append((i, i + n))
            i += n
        return {"input_ids": ids, "offset_mapping": offsets} if return_offsets_mapping else {"input_ids": ids}


@pytest.mark.parametrize("is_fast", [True, False])
def test_split_falls_back_when_prompt_tokens_are_not_a_prefix(is_fast):
    tok = MergingTokenizer(is_fast)
    encoded = encode(tok, "Q: x\n", "Q: x\nSELECT 1;")
    assert not encoded.exact_split
    # "Q", ":", " ", "x" are prompt; "\nS" straddles the boundary and is labelled with the answer
    assert encoded.labels[:4] == [IGNORE_INDEX] * 4
    assert encoded.labels[4:] == encoded.input_ids[4:] and len(encoded.labels) == len(encoded.input_ids)


def test_examples_longer_than_max_seq_length_are_dropped_not_truncated(world):
    tok, data = world["tokenizer"], SpiderData(world["spider"])
    lengths = sorted(len(f["input_ids"]) for f in build_training_set(data, tok, ["train_spider.json"], 512, 1).features)
    built = build_training_set(data, tok, ["train_spider.json"], max_seq_length=lengths[1], seed=1)
    assert built.stats["dropped_longer_than_max_seq_length"] == 1
    assert sorted(len(f["input_ids"]) for f in built.features) == lengths[:2]  # survivors intact


def test_limit_is_a_seeded_sample():
    items = list(range(100))
    assert select_examples(items, 10, seed=3) == select_examples(items, 10, seed=3)
    assert select_examples(items, 10, seed=3) != select_examples(items, 10, seed=4)
    assert select_examples(items, 10, seed=3) != items[:10]
    assert sorted(select_examples(items, None, seed=3)) == items


def test_collator_pads_right_with_ignored_labels():
    batch = PadCollator(pad_token_id=9, multiple_of=4)(
        [{"input_ids": [1, 2, 3], "labels": [-100, 2, 3]}, {"input_ids": [5], "labels": [5]}]
    )
    assert batch["input_ids"].tolist() == [[1, 2, 3, 9], [5, 9, 9, 9]]
    assert batch["labels"].tolist() == [[-100, 2, 3, -100], [5, -100, -100, -100]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 0], [1, 0, 0, 0]]


def test_precision_follows_the_hardware():
    assert precision("bfloat16", cuda=False, bf16_supported=False) == ("fp32", "float32")
    assert precision("bfloat16", cuda=True, bf16_supported=True) == ("bf16", "bfloat16")
    assert precision("bfloat16", cuda=True, bf16_supported=False) == ("fp16", "float16")
    assert precision("float32", cuda=True, bf16_supported=True) == ("bf16", "float32")


# ---------------------------------------------------------------- a real training run


def test_training_lowers_the_loss_and_the_adapter_changes_the_model(world, trained):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    assert trained == world["root"] / "models" / "tiny" / "v1" / "adapter"
    assert (trained / "adapter_config.json").is_file() and (trained / "adapter_model.safetensors").is_file()
    features = build_training_set(
        SpiderData(world["spider"]), world["tokenizer"], ["train_spider.json"], 512, 1
    ).features
    base = AutoModelForCausalLM.from_pretrained(world["tiny"]).eval()
    before = mean_loss(base, features)
    base_logits = base(**PadCollator(0)(features)).logits.detach()
    tuned = PeftModel.from_pretrained(base, str(trained)).eval()
    after = mean_loss(tuned, features)
    assert after < before - 1.0, (before, after)
    assert not torch.allclose(tuned(**PadCollator(0)(features)).logits, base_logits, atol=1e-3)

    points = json.loads((trained.parent / "loss.json").read_text())
    assert [p["step"] for p in points] == list(range(1, 13))
    assert points[-1]["loss"] < points[0]["loss"]


def test_run_record_and_adapter_metadata(world, trained):
    run = json.loads((trained.parent / "run.json").read_text())
    meta = json.loads((trained / ADAPTER_META).read_text())
    spec = load_registry(world["experiments"]).base("tiny")
    identity = base_identity(spec)
    assert meta["base"] == identity["base"] and meta["base_fingerprint"] == identity["base_fingerprint"]
    assert meta["experiment"] == "v1" and meta["global_step"] == 12
    params = run["parameters"]
    assert 0 < params["trainable"] < params["total"]
    assert params["trainable_percent"] == pytest.approx(100 * params["trainable"] / params["total"], rel=1e-4)
    # r=8 on q_proj (64->64) and v_proj (64->32) in 2 layers: A and B of each
    assert params["trainable"] == 2 * (8 * (64 + 64) + 8 * (64 + 32))
    assert run["data"]["checksums"]["train_spider.json"] == sha256_file(world["spider"] / "train_spider.json")
    assert run["data"]["used"] == 3
    assert run["config"]["training"]["learning_rate"] == 2e-2 and run["config"]["training"]["max_steps"] == 12
    assert run["training"]["global_step"] == 12 and run["training"]["tokens_per_s"] > 0
    cuda = torch.cuda.is_available()
    assert run["training"]["precision"] == precision("float32", cuda, cuda and torch.cuda.is_bf16_supported())[0]
    assert run["seed"] == 7 and run["versions"]["peft"] and run["wall_time_s"] > 0
    assert run["loss"]["first"] > run["loss"]["last"]
    assert (trained.parent / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(trained.parent.glob(".adapter*"))  # no staging left behind


def test_evaluation_finds_and_loads_the_trained_adapter(world, trained, monkeypatch):
    monkeypatch.setenv("TRADEOFF_MODELS_DIR", str(world["root"] / "models"))
    registry = load_registry(world["experiments"])
    choice = resolve_model("v1", registry)
    assert choice.adapter_path == trained
    loaded = load_model(choice)  # checks the base identity, then PeftModel.from_pretrained
    plain = load_model(resolve_model("base", registry))
    ids = torch.tensor([[5, 6, 7, 8]])
    assert not torch.allclose(loaded.model(ids).logits, plain.model(ids).logits, atol=1e-4)


def test_an_adapter_is_refused_on_another_base(world, trained):
    other = load_registry(world["experiments"]).base("other")
    with pytest.raises(UserError, match="was trained on base"):
        check_adapter_base(trained, base_identity(other))
    with pytest.raises(UserError, match="was trained on base"):
        load_model(ModelChoice("v1", other, trained, 0, "v1"))


class Interrupt(transformers.TrainerCallback):
    """Dies right after checkpoint `at` is written, like a killed job."""

    def __init__(self, at: int) -> None:
        self.at = at

    def on_save(self, args, state, control, **kwargs):
        if state.global_step == self.at:
            raise KeyboardInterrupt


def test_resume_after_an_interruption_continues_from_the_checkpoint(world):
    kwargs = dict(spider_dir=world["spider"], experiments_file=world["experiments"], max_steps=4, save_steps=1)
    root = world["root"] / "resume"
    with pytest.raises(KeyboardInterrupt):
        train("v1", output_root=root / "a", callbacks=[Interrupt(at=2)], **kwargs)
    run_dir = root / "a" / "tiny" / "v1"
    assert not (run_dir / "adapter").exists()  # an interrupted run publishes nothing
    assert latest_checkpoint(run_dir / "checkpoints").name == "checkpoint-2"

    adapter = train("v1", output_root=root / "a", **kwargs)
    run = json.loads((run_dir / "run.json").read_text())
    assert run["training"]["resumed_from"].endswith("checkpoint-2")
    assert run["training"]["steps_this_run"] == 2 and run["training"]["global_step"] == 4
    state = json.loads((run_dir / "checkpoints" / "checkpoint-4" / "trainer_state.json").read_text())
    assert state["global_step"] == 4
    assert [p["step"] for p in json.loads((run_dir / "loss.json").read_text())] == [1, 2, 3, 4]

    # the resumed run ends where an uninterrupted one does: optimizer, schedule and RNG came back
    straight = train("v1", output_root=root / "b", **kwargs)
    from safetensors.torch import load_file

    resumed_w, straight_w = (
        load_file(adapter / "adapter_model.safetensors"),
        load_file(straight / "adapter_model.safetensors"),
    )
    assert resumed_w.keys() == straight_w.keys()
    for name in resumed_w:
        torch.testing.assert_close(resumed_w[name], straight_w[name], rtol=1e-4, atol=1e-6)


def test_checkpoints_of_another_configuration_are_not_resumed(world):
    kwargs = dict(spider_dir=world["spider"], experiments_file=world["experiments"], save_steps=1)
    out = world["root"] / "mismatch"
    with pytest.raises(KeyboardInterrupt):
        train("v1", output_root=out, max_steps=2, callbacks=[Interrupt(at=1)], **kwargs)
    with pytest.raises(UserError, match="different run configuration .*limit.*--no-resume"):
        train("v1", output_root=out, max_steps=2, limit=2, **kwargs)
    train("v1", output_root=out, max_steps=2, limit=2, resume=False, **kwargs)
    run = json.loads((out / "tiny" / "v1" / "run.json").read_text())
    assert run["training"]["resumed_from"] is None and run["data"]["used"] == 2


def test_latest_checkpoint_skips_incomplete_ones(tmp_path):
    for step, complete in ((3, True), (10, True), (12, False)):
        path = tmp_path / f"checkpoint-{step}"
        path.mkdir()
        if complete:
            (path / "trainer_state.json").write_text("{}")
    (tmp_path / "checkpoint-11").mkdir()
    (tmp_path / "checkpoint-11" / "trainer_state.json").write_text('{"trunc')
    (tmp_path / "checkpoint-13").mkdir()
    (tmp_path / "checkpoint-13" / "trainer_state.json").write_text("{}")
    (tmp_path / "checkpoint-13" / "checkpoint-is-incomplete.txt").write_text("")
    assert latest_checkpoint(tmp_path).name == "checkpoint-10"
    assert latest_checkpoint(tmp_path / "absent") is None


def test_publishing_replaces_the_previous_adapter_whole(tmp_path):
    target = tmp_path / "adapter"
    target.mkdir()
    (target / "stale.bin").write_text("old")
    staging = tmp_path / ".adapter.tmp-1"
    staging.mkdir()
    (staging / "adapter_config.json").write_text("{}")
    publish_adapter(staging, target)
    assert sorted(p.name for p in target.iterdir()) == ["adapter_config.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adapter"]


# ---------------------------------------------------------------- one-line user errors


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / "train.py"), *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})},
        timeout=120,
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["--experiment", "nope"], "unknown experiment 'nope'"),
        (["--experiment", "base"], "train = false"),
        (["--experiment", "v1", "--limit", "0"], "--limit must be an integer >= 1"),
        (["--experiment", "v1", "--max-steps", "-3"], "--max-steps must be an integer >= 1"),
        (["--experiment", "v1", "--limit", "many"], "invalid int value"),
        (["--experiment", "v1", "--base-model", "no-such-base"], "unknown base model"),
        (["--experiment", "v1", "--spider-dir", "/nonexistent/spider"], "Spider data directory not found"),
        (["--experiment", "v1", "--experiments-file", "MALFORMED"], "invalid TOML"),
        (["--experiment", "v1", "--experiments-file", "ZERO_RANK"], "lora_r must be >= 1"),
        (["--experiment", "wrong_modules"], "target_modules"),
    ],
)
def test_user_errors_are_one_line_and_a_failing_status(world, tmp_path, args, message):
    malformed = tmp_path / "bad.toml"
    malformed.write_text("[experiments.v1\nlearning_rate = 1\n")
    zero_rank = tmp_path / "zero.toml"
    zero_rank.write_text(world["experiments"].read_text().replace("lora_r = 8", "lora_r = 0"))
    args = [{"MALFORMED": str(malformed), "ZERO_RANK": str(zero_rank)}.get(a, a) for a in args]
    if "--experiments-file" not in args:
        args += ["--experiments-file", str(world["experiments"])]
    if "--spider-dir" not in args:
        args += ["--spider-dir", str(world["spider"])]
    done = run_cli(*args, "--output-root", str(tmp_path / "models"))
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], done.stderr
    assert not (tmp_path / "models").exists() or not list((tmp_path / "models").rglob("adapter_config.json"))


def test_shipped_lora_config_on_mistral_7b_matches_the_reference_study():
    """1.7M trainable parameters = 0.0235% of Mistral-7B (r=4 on q_proj and v_proj), counted on
    the meta device: the architecture without a byte of weights."""
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM, MistralConfig

    from tradeoff.training.trainer import lora_config

    v1 = load_registry(REPO / "experiments.toml").experiments["v1"].training
    with torch.device("meta"):
        model = get_peft_model(AutoModelForCausalLM.from_config(MistralConfig()), lora_config(v1))
    trainable, total = model.get_nb_trainable_parameters()
    assert trainable == 32 * (4 * (4096 + 4096) + 4 * (4096 + 1024)) == 1_703_936
    assert round(100 * trainable / total, 4) == 0.0235


def test_if_missing_skips_only_an_adapter_of_the_same_configuration(world, capsys):
    kwargs = dict(spider_dir=world["spider"], experiments_file=world["experiments"], save_steps=1)
    out = world["root"] / "if_missing"
    adapter = train("v1", output_root=out, max_steps=2, **kwargs)
    weights = adapter / "adapter_model.safetensors"
    before = (weights.stat().st_mtime_ns, weights.read_bytes())
    assert train("v1", output_root=out, max_steps=2, if_missing=True, **kwargs) == adapter
    assert "adapter up to date" in capsys.readouterr().out
    assert (weights.stat().st_mtime_ns, weights.read_bytes()) == before  # not retrained
    # A smoke adapter does not stand in for another configuration: that one is trained.
    train("v1", output_root=out, max_steps=3, if_missing=True, resume=False, **kwargs)
    assert "other settings (max_steps)" in capsys.readouterr().out
    assert json.loads((out / "tiny" / "v1" / "run.json").read_text())["config"]["training"]["max_steps"] == 3


def test_an_adapter_that_changes_nothing_is_refused(world, trained, tmp_path):
    """A LoRA whose B matrices are zero (untrained) would silently measure the base model."""
    import shutil

    from safetensors.torch import load_file, save_file

    from tradeoff.models.loading import adapter_effect

    registry = load_registry(world["experiments"])
    loaded = load_model(ModelChoice("v1", registry.base(), trained, 0, "v1"))
    assert loaded.identity["adapter_probe_max_abs_logit_change"] == adapter_effect(loaded.model, loaded.tokenizer) > 0
    inert = tmp_path / "inert"
    shutil.copytree(trained, inert)
    weights = load_file(inert / "adapter_model.safetensors")
    save_file({k: v.zero_() if "lora_B" in k else v for k, v in weights.items()}, inert / "adapter_model.safetensors")
    with pytest.raises(UserError, match="does not change the base model's logits"):
        load_model(ModelChoice("v1", registry.base(), inert, 0, "v1"))


def test_snapshots_are_models_with_identities_of_their_own(world, monkeypatch):
    from tradeoff.config.experiments import resolve_model
    from tradeoff.models.identity import identity_key, model_identity
    from tradeoff.training.trainer import snapshot_steps

    assert snapshot_steps(6, 3) == [2, 4] and snapshot_steps(10, 10) == list(range(1, 10))
    out = world["root"] / "snap-models"
    train("snap", spider_dir=world["spider"], output_root=out, experiments_file=world["experiments"], max_steps=6)
    monkeypatch.setenv("TRADEOFF_MODELS_DIR", str(out))
    registry = load_registry(world["experiments"])
    final = resolve_model("snap", registry)
    kept = sorted(p.name for p in (final.adapter_path.parent / "snapshots").iterdir())
    assert kept == ["step-00002", "step-00004"]
    early = resolve_model("snap@step=2", registry)
    meta = json.loads((early.adapter_path / ADAPTER_META).read_text())
    assert meta["global_step"] == 2 and meta["fraction"] == pytest.approx(1 / 3, abs=1e-3)
    keys = {identity_key(model_identity(c)) for c in (final, early, resolve_model("snap@step=4", registry))}
    assert len(keys) == 3
    both = resolve_model("snap@step=2,scale=0.5", registry)
    assert both.adapter_path == early.adapter_path and both.adapter_scale == 0.5
    ids = torch.tensor([[5, 6, 7, 8]])
    early_logits = load_model(early).model(ids).logits
    final_logits = load_model(final).model(ids).logits
    assert not torch.allclose(early_logits, final_logits, atol=1e-5)  # a snapshot is its own model
    with pytest.raises(UserError, match="kept: 2, 4"):
        resolve_model("snap@step=3", registry)
    with pytest.raises(UserError, match="snapshot of a trained experiment"):
        resolve_model("base@step=2", registry)


def _sweep(world: dict, tmp_path: Path, *extra: str) -> tuple[subprocess.CompletedProcess, dict]:
    """`tradeoff sweep` of the base, the adapter and its λ = 0.5 point on the synthetic Spider
    world, with a cache of its own under tmp_path; returns the process and the results JSON."""
    env = dict(os.environ)
    env.update(
        TRADEOFF_MODELS_DIR=str(world["root"] / "models"),
        TRADEOFF_CACHE_DIR=str(tmp_path / "cache"),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        DEEPEVAL_TELEMETRY_OPT_OUT="1",
    )
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        "-m",
        "tradeoff.cli",
        "sweep",
        "--models",
        "base,v1,v1@scale=0.5",
        "--experiments",
        str(world["experiments"]),
        "--spider-dir",
        str(world["spider"]),
        "--suite",
        "spider",
        "--spider-shots",
        "0",
        "--max-new-tokens",
        "8",
        "--results-dir",
        str(out),
        "-p",
        "no:cacheprovider",
        *extra,
    ]
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (out / "report" / "index.html").is_file()
    return done, {p.stem: json.loads(p.read_text()) for p in (out / "results").glob("*.json")}


def test_sweep_scores_every_model_on_one_base_load(world, trained, tmp_path):
    """`tradeoff sweep`: the base, the adapter and its λ = 0.5 point computed in one process on
    one base load, then each scored by pytest from the cache (nothing generated there)."""
    done, results = _sweep(world, tmp_path)
    assert "[sweep] base model loaded 1 time(s) for 3 models" in done.stderr
    assert "loading v1" not in done.stderr  # pytest found every prediction cached
    for i, name in enumerate(("base", "v1", "v1@scale=0.5"), 1):
        assert f"[sweep {i}/3] computing {name}" in done.stderr
    assert set(results) == {"base", "v1", "v1_scale_0.5"}
    assert results["v1_scale_0.5"]["identity"]["adapter_scale"] == 0.5
    assert "adapter_scale" not in results["v1"]["identity"]


def test_sweep_workers_share_the_models_and_match_one_process(world, trained, tmp_path):
    """`--workers 2`: the models dealt to two computing processes, each on one base load of
    its own; every prediction and verdict equals the one-process sweep's (separate caches)."""
    one, sequential = _sweep(world, tmp_path / "one")
    two, parallel = _sweep(world, tmp_path / "two", "--workers", "2")
    assert "[sweep worker 1] base model loaded 1 time(s) for 2 models" in two.stderr
    assert "[sweep worker 2] base model loaded 1 time(s) for 1 models" in two.stderr
    for line in ("[sweep worker 1 1/2] computing base", "[sweep worker 1 2/2] computing v1@scale=0.5"):
        assert line in two.stderr
    assert "[sweep worker 2 1/1] computing v1" in two.stderr
    assert "loading v1" not in two.stderr  # pytest found every prediction cached

    def verdicts(results: dict) -> dict:
        return {
            (name, c["case_id"]): (c["props"].get("prediction"), c["outcome"])
            for name, r in results.items()
            for c in r["cases"]
        }

    assert set(parallel) == set(sequential) == {"base", "v1", "v1_scale_0.5"}
    assert verdicts(parallel) == verdicts(sequential)
    assert len(verdicts(parallel)) >= 6


def test_a_run_reported_to_tensorboard_writes_event_files_that_read_back(world, monkeypatch):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    monkeypatch.delenv("TENSORBOARD_LOGGING_DIR", raising=False)
    out = world["root"] / "tracked"
    adapter = train(
        "v1",
        spider_dir=world["spider"],
        output_root=out,
        experiments_file=world["experiments"],
        max_steps=3,
        report_to=["tensorboard"],
    )
    events = list((adapter.parent / "tracking" / "tensorboard").rglob("events.out.tfevents.*"))
    assert events, "no TensorBoard event file"
    acc = EventAccumulator(str(events[0].parent))
    acc.Reload()
    losses = [e.value for e in acc.Scalars("train/loss")]
    logged = [h["loss"] for h in json.loads((adapter.parent / "loss.json").read_text()) if "loss" in h]
    assert len(losses) >= 3 and losses == pytest.approx(logged[: len(losses)], rel=1e-5)


def test_an_unknown_tracker_is_one_user_error(world):
    with pytest.raises(UserError, match="--report-to nosuch: choose from"):
        train("v1", spider_dir=world["spider"], experiments_file=world["experiments"], report_to=["nosuch"])
