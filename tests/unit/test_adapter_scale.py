"""Partial adaptation (`--model NAME@scale=λ`): parsing, identity and cache keys, and the scaled
LoRA contribution itself (λ = 0 is the base model, λ = 1 the adapter as trained)."""

import pytest
import torch

from tradeoff.config.experiments import load_registry, parse_modifiers, resolve_model
from tradeoff.errors import UserError
from tradeoff.models.identity import identity_key, model_identity
from tradeoff.models.loading import scale_adapter

from tiny_models import tiny_llama


def lora_model(seed: int = 0):
    from peft import LoraConfig, get_peft_model

    model = get_peft_model(
        tiny_llama(300, seed=seed), LoraConfig(r=4, lora_alpha=16, target_modules=["q_proj", "v_proj"])
    )
    torch.manual_seed(seed + 1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)  # peft initialises B to 0: give the adapter an effect
    return model.eval()


@pytest.fixture(scope="module")
def adapter_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("adapter")
    lora_model().save_pretrained(folder)
    return folder


def test_modifiers_are_parsed_and_checked():
    assert parse_modifiers("v1") == ("v1", {})
    assert parse_modifiers("v1@scale=0.25") == ("v1", {"scale": 0.25})
    assert parse_modifiers("./a@b/adapter") == ("./a@b/adapter", {})  # an @ in a path is no modifier
    for bad, message in (("v1@scale=x", "not a number"), ("v1@scale=-1", ">= 0"), ("v1@epoch=3", "unknown modifier")):
        with pytest.raises(UserError, match=message):
            parse_modifiers(bad)


def test_scale_applies_to_adapters_only(adapter_dir):
    registry = load_registry()
    choice = resolve_model(f"{adapter_dir}@scale=0.5", registry)
    assert choice.adapter_scale == 0.5 and choice.adapter_path == adapter_dir.resolve()
    assert choice.label.endswith("@scale=0.5")
    with pytest.raises(UserError, match="applies to a LoRA adapter"):
        resolve_model("base@scale=0.5", registry)


def test_each_scale_has_its_own_identity_and_key_and_one_is_the_adapter(adapter_dir):
    registry = load_registry()
    keys = {}
    for scale in ("0", "0.5", "1", "1.0"):
        identity = model_identity(resolve_model(f"{adapter_dir}@scale={scale}", registry))
        keys[scale] = identity_key(identity)
    plain = identity_key(model_identity(resolve_model(str(adapter_dir), registry)))
    assert keys["1"] == keys["1.0"] == plain  # λ = 1 is the adapter: the same outputs, the same cache rows
    assert len({keys["0"], keys["0.5"], plain}) == 3


def logits(model, ids):
    with torch.no_grad():
        return model(input_ids=ids).logits


def test_scale_zero_is_the_base_and_one_the_adapter():
    ids = torch.tensor([[5, 17, 42, 99, 3, 250]])
    trained = logits(lora_model(), ids)
    base_model = lora_model()
    with base_model.disable_adapter():
        base = logits(base_model, ids)
    assert not torch.allclose(trained, base)  # the adapter does something
    one = lora_model()
    assert scale_adapter(one, 1.0) == 4  # q_proj and v_proj of two layers
    assert torch.allclose(logits(one, ids), trained)
    zero = lora_model()
    scale_adapter(zero, 0.0)
    assert torch.allclose(logits(zero, ids), base, atol=1e-6)


def test_scale_multiplies_each_layers_lora_delta():
    from peft.tuners.lora import LoraLayer

    x = torch.randn(3, 64)
    full, half = lora_model(), lora_model()
    scale_adapter(half, 0.5)
    layer_full = next(m for m in full.modules() if isinstance(m, LoraLayer))
    layer_half = next(m for m in half.modules() if isinstance(m, LoraLayer))
    with torch.no_grad():
        base_out = layer_full.base_layer(x)
        delta_full = layer_full(x) - base_out
        delta_half = layer_half(x) - base_out
    assert torch.allclose(delta_half, 0.5 * delta_full, atol=1e-5)
    assert delta_full.abs().max() > 0


def test_a_model_without_lora_layers_cannot_be_scaled():
    with pytest.raises(UserError, match="no LoRA layers"):
        scale_adapter(tiny_llama(300), 0.5)
