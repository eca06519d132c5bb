"""`trainer.class_weights`: the training loss as a class-weighted cross-entropy.

A forward hook on the transformers classifier replaces the loss it computed from `labels` with the
weighted one, in training mode only: validation metrics (and `val_loss`, which early stopping and the
best checkpoint follow) stay unweighted, comparable across runs with other weights. The module's code and
its checkpoints are unchanged (a hook holds no state)."""

from __future__ import annotations

import torch

from activities.class_weights import class_weights_for
from workflows.payloads.messages import DatasetSnapshot


def weigh_training_loss(model: torch.nn.Module, value, snapshot: DatasetSnapshot) -> None:
    """Make `model`'s training loss the cross-entropy weighted per class by `value` (`trainer.class_weights`);
    nothing when it is unweighted.

    Raises:
        ConfigError: weights that do not fit the snapshot's classes (`class_weights_for`).
    """
    weights = class_weights_for(value, snapshot)
    if weights is None:
        return
    table = torch.tensor(weights, dtype=torch.float32)

    def weighted(module: torch.nn.Module, args, kwargs, output):
        labels = kwargs.get("labels")
        if not module.training or labels is None:
            return output
        logits = output.logits
        output.loss = torch.nn.functional.cross_entropy(
            logits.float().view(-1, logits.shape[-1]), labels.view(-1), weight=table.to(logits.device))
        return output

    model.register_forward_hook(weighted, with_kwargs=True)
