"""The validation metrics of a token-classification fit: `val_f1`, `val_precision`, `val_recall` (entity
level, micro, `activities.ner.spans`) and `val_token_accuracy`, logged at the end of each validation
beside `val_loss` and recorded with the validation's step like every task's (`ValidationMetrics`).

Each batch's predicted and true label rows stay on the device, padded to `dataset.max_length` with -100;
they are read once per validation (under data parallelism gathered from every rank first) and scored at
word level: positions labelled -100 are left out.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from activities.engine.callbacks.val_metrics import PREFIX, ValidationMetrics
from activities.ner.spans import IGNORED, tagging_report


class TokenValidationMetrics(ValidationMetrics):
    """`ValidationMetrics` for token classification (`validation_step` returns the predicted classes)."""

    def __init__(self, label_names: list[str], max_length: int):
        super().__init__(label_names)
        self.max_length = max_length
        self.rows: list[torch.Tensor] = []

    def on_validation_epoch_start(self, trainer, pl_module) -> None:
        self.rows = []

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        if not isinstance(outputs, torch.Tensor):
            return
        pair = torch.stack([outputs.detach().long(), batch["labels"].to(outputs.device)])
        self.rows.append(F.pad(pair, (0, self.max_length - pair.shape[-1]), value=IGNORED))

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        if trainer.sanity_checking or not self.rows:
            return
        gathered = trainer.strategy.all_gather(torch.cat(self.rows, dim=1))
        if gathered.dim() == 4:  # (ranks, 2, rows, length)
            gathered = gathered.transpose(0, 1).reshape(2, -1, self.max_length)
        predicted, actual = gathered.tolist()
        metrics, _ = tagging_report(predicted, actual, self.label_names)
        for name, value in metrics.items():
            pl_module.log(f"{PREFIX}{name}", value, batch_size=1)
