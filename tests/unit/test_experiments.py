from pathlib import Path

import pytest

from tradeoff.config.experiments import adapter_dir, load_registry, resolve_model
from tradeoff.errors import UserError

REPO = Path(__file__).resolve().parents[2]


def test_shipped_file_declares_reference_runs():
    reg = load_registry(REPO / "experiments.toml")
    v1, v2 = reg.experiments["v1"].training, reg.experiments["v2"].training
    assert (v1.learning_rate, v2.learning_rate) == (2e-4, 5e-4)
    for t in (v1, v2):
        assert (t.lora_r, t.lora_alpha, t.lora_dropout, t.batch_size) == (4, 16, 0.05, 4)
        assert t.target_modules == ("q_proj", "v_proj")
    assert reg.experiments["base"].train is False and reg.experiments["base"].spider_shots == 4
    assert reg.base_models["mistral-7b"].source == "mistralai/Mistral-7B-Instruct-v0.2"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "e.toml"
    path.write_text(text)
    return path


BASE = '[defaults]\nbase_model = "m"\n[base_models.m]\nsource = "org/model"\n'


@pytest.mark.parametrize(
    "body, message",
    [
        ("[defaults\n", "invalid TOML"),
        (BASE + "[experiments.x]\nlearning_rate = 'fast'\n", "expected float"),
        (BASE + "[experiments.x]\nlora_rank = 4\n", "unknown key"),
        (BASE + "[experiments.x]\nlora_r = -1\n", "must be >= 0"),
        (BASE + "[experiments.x]\ntarget_modules = 'q_proj'\n", "list of strings"),
        ('[defaults]\nbase_model = "nope"\n' + BASE.split("\n", 2)[2], "defaults.base_model"),
        (BASE + "[surprise]\n", "unknown section"),
        (BASE + "[experiments.b]\ntrain = false\nlearning_rate = 1.0\n", "is not trained but sets"),
    ],
)
def test_malformed_files_are_one_clear_error(tmp_path, body, message):
    with pytest.raises(UserError, match=message):
        load_registry(write(tmp_path, body))


def test_missing_file(tmp_path):
    with pytest.raises(UserError, match="not found"):
        load_registry(tmp_path / "absent.toml")


def test_adding_an_experiment_is_adding_a_block(tmp_path):
    reg = load_registry(
        write(tmp_path, BASE + "[training]\nlora_r = 4\n[experiments.r16]\nlora_r = 16\nlearning_rate = 1e-4\n")
    )
    assert reg.experiments["r16"].training.lora_r == 16
    assert reg.experiments["r16"].training.learning_rate == 1e-4


def test_resolution(tmp_path, monkeypatch):
    monkeypatch.setenv("TRADEOFF_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("TRADEOFF_SHIPPED_ADAPTERS", str(tmp_path / "shipped"))  # none shipped
    reg = load_registry(REPO / "experiments.toml")
    base = resolve_model("base", reg)
    assert base.adapter_path is None and base.spider_shots == 4
    with pytest.raises(UserError, match=r"not trained yet.*python train.py --experiment v1"):
        resolve_model("v1", reg)
    trained = adapter_dir(reg.base(), "v1")
    trained.mkdir(parents=True)
    (trained / "adapter_config.json").write_text("{}")
    assert resolve_model("v1", reg).adapter_path == trained
    hub = resolve_model("mistralai/Mistral-7B-Instruct-v0.2", reg)
    assert hub.base.source == "mistralai/Mistral-7B-Instruct-v0.2" and hub.adapter_path is None
    with pytest.raises(UserError, match="for base 'mistral-7b'"):
        resolve_model("v1", reg, "mistral-7b")  # adapters are per base model
    with pytest.raises(UserError, match="unknown --model"):
        resolve_model("no such model!", reg)
    with pytest.raises(UserError, match="neither adapter_config.json nor config.json"):
        resolve_model(str(tmp_path), reg)


def test_published_anchors_are_declared_checked_and_shown(tmp_path):
    """A base model's published figures (experiments.toml) and the report row beside the measured one."""
    from reports.comparison.build import anchors_text
    from tradeoff.config.experiments import load_registry

    shipped = load_registry().base_models
    assert [a.metric for a in shipped["smollm2-135m"].anchors] == ["mmlu-cloze"]
    assert shipped["mistral-7b"].anchors[0].value == 60.78
    bad = tmp_path / "e.toml"
    bad.write_text(
        '[defaults]\nbase_model = "m"\n[base_models.m]\nsource = "x/y"\n'
        'anchors = [{ metric = "mmlu", value = 30, source = "card" }]\n'
    )
    with pytest.raises(UserError, match="not one of"):
        load_registry(bad)
    run = {
        "anchors": [{"metric": "mmlu-cloze", "value": 29.3, "source": "model card"}],
        "suites": {"mmlu": {"cloze": {"overall": {"micro": 0.27, "scored": 200}}}},
    }
    assert anchors_text(run) == "mmlu-cloze: published 29.3 (model card); here 27.0 on 200 questions"
    assert anchors_text({}) == "-"
