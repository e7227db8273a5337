"""The answer-only training loss equals the model's own full-logits loss, value and gradients."""

from __future__ import annotations

import pytest
import torch

from tradeoff.training.data import IGNORE_INDEX
from tradeoff.training.loss import answer_only_loss, right_padded

from tiny_models import tiny_llama


def _batch(vocab: int, padding: str = "right") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    torch.manual_seed(1)
    ids = torch.randint(0, vocab, (3, 24))
    mask = torch.ones_like(ids)
    labels = ids.clone()
    labels[:, :15] = IGNORE_INDEX  # the prompt
    if padding == "right":  # what PadCollator makes: the loss runs without the mask
        mask[2, 18:] = 0
        labels[2, 18:] = IGNORE_INDEX
    else:  # left padding: the mask must stay
        mask[2, :4] = 0
        labels[2, :4] = IGNORE_INDEX
    return ids, mask, labels


def test_right_padding_is_recognised():
    assert right_padded(_batch(300, "right")[1]) and not right_padded(_batch(300, "left")[1])
    assert right_padded(torch.ones(2, 5, dtype=torch.long))
    assert not right_padded(torch.tensor([[1, 0, 1, 1]]))


@pytest.mark.parametrize("padding", ["right", "left"])
@pytest.mark.parametrize("lora", [False, True])
def test_answer_only_loss_equals_the_full_logits_loss(lora, padding):
    model = tiny_llama(vocab_size=300)
    if lora:
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(r=4, lora_alpha=16, target_modules=["q_proj", "v_proj"]))
        for name, param in model.named_parameters():  # make the adapter do something
            if "lora_B" in name:
                torch.nn.init.normal_(param, std=0.1)
    ids, mask, labels = _batch(300, padding)
    model.train()
    full = model(input_ids=ids, attention_mask=mask, labels=labels).loss
    full_grads = torch.autograd.grad(full, [p for p in model.parameters() if p.requires_grad])
    mine = answer_only_loss(model, ids, mask, labels)
    mine_grads = torch.autograd.grad(mine, [p for p in model.parameters() if p.requires_grad])
    assert mine.item() == pytest.approx(full.item(), rel=1e-5)
    for a, b in zip(full_grads, mine_grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
    # with the Trainer's token count the sum is divided the same way
    n = (labels[:, 1:] != IGNORE_INDEX).sum()
    assert answer_only_loss(model, ids, mask, labels, n).item() == pytest.approx(full.item(), rel=1e-5)


def _train(row_by_row: bool, accumulation: int, tmp_path) -> tuple[list[torch.Tensor], list[float]]:
    """Three optimizer steps of the real Trainer on a tiny LoRA model, dropout off."""
    from peft import LoraConfig, get_peft_model
    from transformers import Trainer, TrainingArguments

    from tradeoff.training.data import PadCollator
    from tradeoff.training.loss import answer_only_trainer

    torch.manual_seed(0)
    model = get_peft_model(
        tiny_llama(vocab_size=300),
        LoraConfig(r=4, lora_alpha=16, lora_dropout=0.0, target_modules=["q_proj", "v_proj"]),
    )
    gen = torch.Generator().manual_seed(3)
    features = []
    for length in (9, 17, 12, 30, 21, 14, 25, 11, 19, 28, 16, 23):  # rows of unequal length: padding
        ids = torch.randint(1, 300, (length,), generator=gen).tolist()
        features.append({"input_ids": ids, "labels": [IGNORE_INDEX] * (length // 2) + ids[length // 2 :]})
    args = TrainingArguments(
        output_dir=str(tmp_path / f"out-{row_by_row}-{accumulation}"),
        per_device_train_batch_size=4 // accumulation,
        gradient_accumulation_steps=accumulation,
        max_steps=3,
        learning_rate=1e-2,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        seed=0,
        remove_unused_columns=False,
        label_names=["labels"],
    )
    trainer = answer_only_trainer(Trainer, row_by_row=row_by_row)(
        model=model, args=args, train_dataset=features, data_collator=PadCollator(0)
    )
    trainer.train()
    weights = [p.detach().clone() for p in model.parameters() if p.requires_grad]
    return weights, [h["loss"] for h in trainer.state.log_history if "loss" in h]


@pytest.mark.parametrize("accumulation", [1, 2])
def test_row_by_row_training_takes_the_batched_steps(accumulation, tmp_path):
    """One unpadded row per forward (train.py on CPU) gives the same losses and the same trained
    weights as the padded batch, with and without gradient accumulation."""
    batched, batched_losses = _train(False, accumulation, tmp_path)
    rows, row_losses = _train(True, accumulation, tmp_path)
    assert len(row_losses) == 3
    assert row_losses == pytest.approx(batched_losses, rel=1e-5)
    for a, b in zip(batched, rows, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
    assert any(float(w.abs().max()) > 0 for w in rows[1::2])  # lora_B moved off its zero start
