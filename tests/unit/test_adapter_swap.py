"""Hot-swapped adapters on one base load give the outputs of freshly loaded models."""

import pytest
import torch

from tradeoff.config.experiments import BaseModelSpec, ModelChoice
from tradeoff.models.loading import load_model
from tradeoff.models.swap import AdapterHost

from tiny_models import bytelevel_tokenizer, tiny_llama


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from peft import LoraConfig, get_peft_model

    root = tmp_path_factory.mktemp("swap")
    tokenizer = bytelevel_tokenizer()
    base_dir = root / "base"
    base = tiny_llama(len(tokenizer), seed=0)
    base.save_pretrained(base_dir)
    tokenizer.save_pretrained(base_dir)
    adapters = []
    for seed in (1, 2):
        model = get_peft_model(
            tiny_llama(len(tokenizer), seed=0), LoraConfig(r=4, lora_alpha=16, target_modules=["q_proj", "v_proj"])
        )
        torch.manual_seed(seed)
        with torch.no_grad():
            for name, p in model.named_parameters():
                if "lora_" in name:
                    p.normal_(0, 0.3)
        model.save_pretrained(root / f"adapter{seed}")
        adapters.append(root / f"adapter{seed}")
    spec = BaseModelSpec("tiny", str(base_dir), "float32")
    return spec, adapters


def choice(spec, adapter=None, scale=1.0):
    return ModelChoice("m", spec, adapter, 0, adapter_scale=scale)


def logits(loaded, ids):
    with torch.no_grad():
        return loaded.model(input_ids=ids).logits.clone()


def test_swapped_adapters_equal_freshly_loaded_models(world):
    spec, (a1, a2) = world
    ids = torch.tensor([[3, 14, 15, 92, 65, 35]])
    order = [choice(spec), choice(spec, a1), choice(spec, a2), choice(spec, a1, 0.5), choice(spec, a1), choice(spec)]
    host = AdapterHost("cpu")
    swapped = [logits(host.activate(c), ids) for c in order]
    fresh = [logits(load_model(c), ids) for c in order]
    for got, want in zip(swapped, fresh):
        assert torch.allclose(got, want, atol=1e-5)
    assert host.base_loads == 1  # one base load for all six
    assert not torch.allclose(swapped[1], swapped[2], atol=1e-4)  # the adapters differ
    assert not torch.allclose(swapped[1], swapped[3], atol=1e-4)  # and λ = 0.5 is its own model
    assert torch.allclose(swapped[0], swapped[5], atol=1e-6)  # the base after adapters is still the base
