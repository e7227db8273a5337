"""The training loss with the LM head applied only where there is something to learn.

A causal LM computes logits for every position, but the loss needs them only where the next
token is labelled: the SQL answer, about a tenth of a Spider training example (the schema and
question are prompt, masked with IGNORE_INDEX). Over SmolLM2's 49k vocabulary the full fp32
logits of a batch of 4 x 1000 tokens alone are 0.8 GB, plus as much again for their gradient.
`answer_only_loss` runs the decoder, keeps the hidden states of the labelled positions, and
applies the LM head and the cross-entropy to those rows only. The result is the same loss as
the model's own `labels=` path (HF's ForCausalLMLoss: fp32 logits, shifted labels, summed and
divided by the number of labelled tokens, or by `num_items_in_batch` when the Trainer passes it).

A right-padded batch also runs without its attention mask: under causal attention a real token
never sees the padding after it, so its hidden state is the same, and with no mask torch's
SDPA takes its causal kernel instead of materialising a (T x T) score matrix per head and
layer for the backward pass -- the bulk of training's memory at 1000-token examples.

On CPU, `backward_row_by_row` goes further: each row of the batch runs alone at its own length
(no padding at all) and is backpropagated before the next, so one row's activations are held
at a time and the gradient is still the batch's.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import torch

from tradeoff.training.data import IGNORE_INDEX


def _causal_lm(model: Any) -> Any:
    """The *ForCausalLM under a PEFT wrapper (the LoRA layers live inside its decoder)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def right_padded(attention_mask: torch.Tensor) -> bool:
    """Every row is its tokens then only padding (what PadCollator makes)."""
    return bool((attention_mask[:, 1:] <= attention_mask[:, :-1]).all() and attention_mask[:, 0].all())


def answer_only_loss(
    model: Any,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    labels: torch.Tensor,
    num_items_in_batch: torch.Tensor | int | None = None,
    drop_right_padding_mask: bool = True,
) -> torch.Tensor:
    """Mean next-token cross-entropy over the labelled positions, without logits elsewhere
    (`drop_right_padding_mask=False` keeps the mask: the bench's baseline)."""
    lm = _causal_lm(model)
    mask = None if drop_right_padding_mask and right_padded(attention_mask) else attention_mask
    hidden = lm.get_decoder()(input_ids=input_ids, attention_mask=mask).last_hidden_state
    targets = labels[:, 1:]
    keep = targets != IGNORE_INDEX  # position t predicts token t + 1
    logits = lm.get_output_embeddings()(hidden[:, :-1][keep]).float()
    total = torch.nn.functional.cross_entropy(logits, targets[keep], reduction="sum")
    count = num_items_in_batch if num_items_in_batch is not None else keep.sum()
    if isinstance(count, torch.Tensor):
        count = count.to(total.device)
    return total / count


def backward_row_by_row(
    model: Any,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    labels: torch.Tensor,
    count: torch.Tensor | int,
    divide_by: int = 1,
    context: Callable[[], AbstractContextManager[Any]] = nullcontext,
    backward: Callable[[torch.Tensor], Any] = torch.Tensor.backward,
) -> torch.Tensor:
    """Backpropagate a right-padded batch's loss one row at a time, each row cut to its own
    length; `count` is the batch's labelled-token count, so the row losses sum to the batch
    loss and the accumulated gradient is the batch's. Returns that loss, detached."""
    total = torch.zeros((), device=input_ids.device)
    for row, length in enumerate(attention_mask.sum(dim=1).tolist()):
        keep = slice(row, row + 1), slice(0, length)
        with context():
            loss = answer_only_loss(model, input_ids[keep], attention_mask[keep], labels[keep], count) / divide_by
        backward(loss)
        total += loss.detach()
    return total


def answer_only_trainer(trainer_cls: Any, row_by_row: bool = False) -> Any:
    """A Trainer subclass whose loss is `answer_only_loss` (single process; under several
    processes the model's own loss keeps DDP's forward, which gradient sync relies on).

    `row_by_row=True` (train.py sets it on CPU) runs a right-padded batch one row at a time,
    each row without its padding, and backpropagates each row's share of the batch loss as it
    goes: the gradient is the batch's (the same sum divided by the same token count), the
    padding is never computed, and only one row's activations are held at a time. On 2 CPU
    cores that is faster as well as smaller (docs/training.md). Dropout draws its masks per
    row instead of per batch: the same distribution, not the same random numbers.
    """

    class AnswerOnlyTrainer(trainer_cls):  # type: ignore[misc, valid-type]
        def compute_loss(
            self, model: Any, inputs: dict[str, Any], return_outputs: bool = False, num_items_in_batch: Any = None
        ) -> Any:
            if return_outputs or self.args.world_size > 1:
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            return answer_only_loss(
                model, inputs["input_ids"], inputs["attention_mask"], inputs["labels"], num_items_in_batch
            )

        def training_step(self, model: Any, inputs: dict[str, Any], num_items_in_batch: Any = None) -> Any:
            if not row_by_row or self.args.world_size > 1 or not right_padded(inputs["attention_mask"]):
                return super().training_step(model, inputs, num_items_in_batch)
            model.train()
            if callable(getattr(self.optimizer, "train", None)):
                self.optimizer.train()
            inputs = self._prepare_inputs(inputs)
            labels = inputs["labels"]
            count = num_items_in_batch if num_items_in_batch is not None else (labels[:, 1:] != IGNORE_INDEX).sum()
            # Trainer's own rule (training_step): a loss not divided by the accumulated token
            # count is divided by the number of accumulation steps
            per_step = (not self.model_accepts_loss_kwargs or num_items_in_batch is None) and (
                self.compute_loss_func is None
            )
            return backward_row_by_row(
                model,
                inputs["input_ids"],
                inputs["attention_mask"],
                labels,
                count,
                divide_by=self.current_gradient_accumulation_steps if per_step else 1,
                context=self.compute_loss_context_manager,
                backward=self.accelerator.backward,
            )

    return AnswerOnlyTrainer
