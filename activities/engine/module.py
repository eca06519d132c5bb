"""The LightningModule that fine-tunes a transformers sequence classifier: its loss and validation
metrics, AdamW with weight decay off for biases and LayerNorm weights (and layer-wise LR decay:
`activities.engine.layer_decay`), and the step-wise LR schedule of `activities.engine.schedule`."""

from __future__ import annotations

import lightning as L
import torch

from activities.engine.layer_decay import parameter_groups
from activities.engine.schedule import warmup_decay
from workflows.payloads.specs import OptimSpec


class SequenceClassifier(L.LightningModule):
    """A sequence-level model: a classifier (one or two texts) or, with `regression`, one number per text,
    or, with a multi-label `threshold`, any number of labels per text (those whose sigmoid is above it)."""

    def __init__(self, model: torch.nn.Module, optim: OptimSpec, max_steps: int, regression: bool = False,
                 threshold: float | None = None, tagged: bool = False):
        super().__init__()
        self.model = model
        self.optim = optim
        self.max_steps = max_steps
        self.regression = regression
        self.threshold = threshold
        self.tagged = tagged
        """Token classification: a class per token (`activities.ner.validation` scores the entities)."""

    def forward(self, batch: dict[str, torch.Tensor]):
        return self.model(**batch)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss = self(batch).loss
        # not on the progress bar: Lightning turns progress-bar values into Python floats at every step,
        # which makes the host wait for the device each step
        self.log("train_loss", loss, batch_size=batch["labels"].shape[0])
        return loss

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        out = self(batch)
        n = batch["labels"].shape[0]
        self.log("val_loss", out.loss, prog_bar=True, batch_size=n)
        if self.regression:
            return out.logits.squeeze(-1).float()  # `ValidationMetrics` scores them
        if self.threshold is not None:  # multi_label: `ValidationMetrics` counts the labels above it
            return out.logits.float().sigmoid() > self.threshold
        predicted = out.logits.argmax(-1)
        if self.tagged:
            return predicted  # `TokenValidationMetrics` scores them
        self.log("val_accuracy", (predicted == batch["labels"]).float().mean(), prog_bar=True, batch_size=n)
        return predicted  # `ValidationMetrics` counts them

    def configure_gradient_clipping(self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None) -> None:
        """Lightning refuses to clip for a fused optimiser because with fp16 its gradient scaler unscales
        inside the fused step; with bf16 or fp32 there is no scaler and nothing to unscale, so clip here."""
        if gradient_clip_val and self.optim.fused and getattr(self.trainer.precision_plugin, "scaler", None) is None:
            torch.nn.utils.clip_grad_norm_(self.parameters(), gradient_clip_val)
            return
        self.clip_gradients(optimizer, gradient_clip_val, gradient_clip_algorithm)

    def configure_optimizers(self):
        optimizer = torch.optim.AdamW(parameter_groups(self.model, self.optim), fused=self.optim.fused or None)
        warmup = int(self.optim.warmup_ratio * self.max_steps)
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: warmup_decay(step, warmup, self.max_steps, self.optim.scheduler)
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}
