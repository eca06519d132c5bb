"""`model.freeze_steps`: the classification head trains alone for the first N optimiser steps, then the
whole model does (a new head first settles on the pretrained features instead of sending large gradients
through them)."""

from __future__ import annotations

import torch
from lightning.pytorch.callbacks import Callback


def encoder_parameters(model: torch.nn.Module) -> list[torch.nn.Parameter]:
    """Every parameter but the classification head's: those of the transformer body, found by the model's
    `base_model_prefix` (`bert` for BERT), which is all but the head in a transformers classifier."""
    body = getattr(model, getattr(model, "base_model_prefix", ""), None)
    if not isinstance(body, torch.nn.Module):
        raise ValueError(f"{type(model).__name__} has no transformer body under base_model_prefix "
                         f"{getattr(model, 'base_model_prefix', None)!r}: model.freeze_steps cannot tell the head apart")
    return list(body.parameters())


class FreezeEncoder(Callback):
    """Before each training batch, freezes the encoder (`requires_grad` off: no gradient, so AdamW neither
    moves it nor applies weight decay to it) while the global step is below `steps`, and unfreezes it from
    step `steps` on. The decision is a function of the global step alone, so a fit resumed before or after
    step `steps` freezes exactly as an uninterrupted one."""

    def __init__(self, steps: int):
        self.steps = steps
        self.frozen: bool | None = None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        frozen = trainer.global_step < self.steps
        if frozen != self.frozen:
            for param in encoder_parameters(pl_module.model):
                param.requires_grad_(not frozen)
            self.frozen = frozen

    def on_train_end(self, trainer, pl_module) -> None:
        if self.frozen:  # the model leaves the fit trainable, as it came
            for param in encoder_parameters(pl_module.model):
                param.requires_grad_(True)
            self.frozen = False
