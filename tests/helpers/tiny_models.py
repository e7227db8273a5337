"""Test helpers: tiny random causal LMs, real tokenizers built offline, and the MMLU data location.

The scorer's correctness does not depend on model quality, only on tokenisation and on the
arithmetic over logits, so a 2-layer random Mistral with the real Mistral-7B tokenizer checks
everything a 7B model would, in milliseconds, with no hub access.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import tempfile
import zipfile
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[2]


def mmlu_data_dir() -> Path:
    """MMLU_DIR, else the shared CSV release beside the repo (read in place, never copied)."""
    return Path(os.environ.get("MMLU_DIR", REPO.parent / "shared" / "data" / "mmlu")).resolve()


_MISTRAL_MEMBER = "mistral_common/data/tokenizer.model.v1"


def mistral_tokenizer_file() -> Path:
    """Mistral-7B's sentencepiece model as shipped in the mistral-common PyPI package.

    Looked up, in order: $MISTRAL_TOKENIZER_MODEL; an installed mistral_common (located, not
    imported); a mistral-common wheel in <repo>/.whl/ (`pip download --no-deps
    mistral-common==1.13.1 -d .whl`), read as a zip. The wheel route exists because installing
    mistral-common without its dependencies breaks transformers' AutoTokenizer for every
    Mistral checkpoint (it then imports mistral_common, which needs tiktoken).
    """
    explicit = os.environ.get("MISTRAL_TOKENIZER_MODEL")
    if explicit:
        return Path(explicit)
    spec = importlib.util.find_spec("mistral_common")
    if spec is not None and spec.submodule_search_locations:
        return Path(list(spec.submodule_search_locations)[0]) / "data" / "tokenizer.model.v1"
    wheels = sorted((REPO / ".whl").glob("mistral_common-*.whl"))
    if not wheels:
        raise RuntimeError(
            "Mistral tokenizer not found: run `pip download --no-deps mistral-common==1.13.1 -d .whl` "
            "in the repo (or set MISTRAL_TOKENIZER_MODEL to a tokenizer.model)"
        )
    target = Path(tempfile.gettempdir()) / f"{wheels[-1].stem}.tokenizer.model"
    if not target.is_file():  # extracted once per machine; write-then-rename is safe under xdist
        with zipfile.ZipFile(wheels[-1]) as wheel:
            staging = target.with_suffix(f".{os.getpid()}")
            staging.write_bytes(wheel.read(_MISTRAL_MEMBER))
            os.replace(staging, target)
    return target


@functools.cache
def mistral_tokenizer():
    """The real Mistral-7B (v0.1/v0.2, 32k vocabulary) tokenizer, built offline.

    transformers converts the sentencepiece `tokenizer.model` into its fast tokenizer (this
    needs the sentencepiece and protobuf packages); BOS is added as the hub's Mistral
    tokenizer does.
    """
    from transformers import LlamaTokenizer

    model_file = mistral_tokenizer_file()
    if not model_file.is_file():
        raise RuntimeError(f"{model_file} does not exist")
    folder = Path(tempfile.mkdtemp(prefix="mistral-tok-"))
    (folder / "tokenizer.model").symlink_to(model_file.resolve())
    return LlamaTokenizer.from_pretrained(str(folder), add_bos_token=True)


_BPE_CORPUS = (
    "The following are multiple choice questions (with answers) about high school physics.\n\n"
    "What is the unit of force?\nA. newton\nB. joule\nC. watt\nD. pascal\nAnswer: A\n\n"
    "Question: Which gas do plants absorb?\nAnswer: carbon dioxide\n\n"
    "Statement 1 | Every group is abelian. Statement 2 | 7 is prime.\nA. True, True\nB. False, False\n"
)


@functools.cache
def bytelevel_tokenizer():
    """A small GPT-2-style byte-level BPE (like SmolLM2's) that merges "\\n\\n" into one token.

    Its pre-tokenizer splits "\\n\\nThe" as "\\n", "\\n", "The" but a trailing "\\n\\n" as one
    token, so a prompt prefix ending in "\\n\\n" does NOT tokenise as a prefix of the full
    prompt - the case the prefix cache must handle.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    # Each paragraph ends its string, so the trailing "\n\n" pre-token is seen and merged.
    paragraphs = [p + "\n\n" for p in _BPE_CORPUS.split("\n\n") if p]
    tok.train_from_iterator(paragraphs * 50, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", bos_token="<|endoftext|>")


def _finish(model: torch.nn.Module) -> torch.nn.Module:
    return model.to(torch.float32).eval()


def tiny_mistral(vocab_size: int = 32000, seed: int = 0, layers: int = 2, hidden: int = 64):
    """A random MistralForCausalLM small enough to run a 5-shot MMLU prompt in milliseconds.

    initializer_range is raised from 0.02 so that the random model has clearly separated
    answer log-likelihoods (fewer exact near-ties between lm-eval's and our float orderings).
    """
    from transformers import MistralConfig, MistralForCausalLM

    torch.manual_seed(seed)
    config = MistralConfig(
        vocab_size=vocab_size,
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=8192,
        sliding_window=None,
        initializer_range=0.2,
        tie_word_embeddings=False,
        bos_token_id=1,
        eos_token_id=2,
    )
    return _finish(MistralForCausalLM(config))


def tiny_llama(vocab_size: int, seed: int = 0, layers: int = 2, hidden: int = 64):
    """A random LlamaForCausalLM (SmolLM2's architecture) for any tokenizer's vocabulary."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=8192,
        initializer_range=0.2,
        tie_word_embeddings=False,
    )
    return _finish(LlamaForCausalLM(config))


def rig_output_bias(model: torch.nn.Module, token_bias: dict[int, float]) -> torch.nn.Module:
    """Make the model's logits input-independent: zero lm_head weights plus a bias that is
    `token_bias[t]` for the given tokens and 0 elsewhere, so every log-prob is known exactly."""
    head = model.get_output_embeddings()
    rigged = torch.nn.Linear(head.in_features, head.out_features, bias=True)
    with torch.no_grad():
        rigged.weight.zero_()
        rigged.bias.zero_()
        for token, value in token_bias.items():
            rigged.bias[token] = value
    model.set_output_embeddings(rigged)
    return model
