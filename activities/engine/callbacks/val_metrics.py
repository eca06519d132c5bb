"""Every validation metric of a fit, not only the monitored one: `ValidationMetrics` adds the macro-F1 of
each validation (over the classes present, as `activities.metrics` computes it for a test split) to what
the module logs (`val_loss`, `val_accuracy`), and remembers all of them at the latest validation's step,
so a ladder segment reports every metric at its rung (`TrainResult.val_metrics`).

The confusion matrix is counted on the device, batch by batch, and read once per validation: no
host-device sync per batch. Under data parallelism the ranks' matrices are summed first, so the score is
the whole split's.

For regression (`scale` given) it keeps each batch's outputs and labels on the device instead, and at the
end of a validation logs `val_mse`, `val_mae`, `val_pearson` and `val_spearman` of the whole split in the
label's own units (outputs and labels times std plus mean, `activities.encode.scale`).

For multi_label (`multi_label` on) it counts each label's TP/FP/FN and the exactly-right rows on the
device (`activities.multi_label_metrics.count_batch`) and logs `val_micro_f1`, `val_macro_f1` and
`val_subset_accuracy` of the whole split, from counts read once per validation.
"""

from __future__ import annotations

import torch
from lightning.pytorch.callbacks import Callback

from activities.metrics import macro_f1, per_class_metrics
from activities.multi_label_metrics import count_batch, report_from_counts
from activities.regression_metrics import regression_report

PREFIX = "val_"
"""Lightning names of validation metrics start with it (`val_loss`, `val_accuracy`, `val_macro_f1`)."""
MACRO_F1 = "val_macro_f1"


class ValidationMetrics(Callback):
    """Logs `val_macro_f1` at the end of each validation (from the predicted classes `validation_step`
    returns) and records every `val_*` metric with the validation's global step."""

    def __init__(self, label_names: list[str], scale: tuple[float, float] | None = None, multi_label: bool = False):
        self.label_names = list(label_names)
        self.scale = scale
        self.multi_label = multi_label
        """Regression: (mean, std) back to the label's units; None for classification."""
        self.counts: torch.Tensor | None = None
        self.pairs: list[torch.Tensor] = []
        self.step = -1
        self.values: dict[str, float] = {}

    def on_validation_epoch_start(self, trainer, pl_module) -> None:
        self.counts = None
        self.pairs = []

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        if not isinstance(outputs, torch.Tensor):
            return
        if self.scale is not None:
            self.pairs.append(torch.stack([outputs.detach().float(), batch["labels"].to(outputs.device).float()]))
            return
        if self.multi_label:
            counts = count_batch(outputs, batch["labels"])
            self.counts = counts if self.counts is None else self.counts + counts
            return
        n = len(self.label_names)
        pairs = batch["labels"].to(outputs.device) * n + outputs  # true label x predicted label
        counts = torch.bincount(pairs.flatten(), minlength=n * n)
        self.counts = counts if self.counts is None else self.counts + counts

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        if trainer.sanity_checking:
            return
        if self.scale is not None and self.pairs:
            mean, std = self.scale
            gathered = trainer.strategy.all_gather(torch.cat(self.pairs, dim=1))
            predicted, actual = (gathered.reshape(-1, 2, gathered.shape[-1]).transpose(0, 1).reshape(2, -1)
                                 * std + mean).tolist()
            for name, value in regression_report(predicted, actual).items():
                pl_module.log(f"{PREFIX}{name}", value, batch_size=1)
            return
        if self.counts is None:
            return
        n = len(self.label_names)
        counts = trainer.strategy.reduce(self.counts, reduce_op="sum")
        if self.multi_label:
            metrics, _ = report_from_counts(counts.tolist(), self.label_names)
            for name in ("micro_f1", "macro_f1", "subset_accuracy"):
                pl_module.log(f"{PREFIX}{name}", metrics[name], batch_size=1)
            return
        matrix = counts.reshape(n, n).tolist()
        pl_module.log(MACRO_F1, macro_f1(per_class_metrics(matrix, self.label_names)), batch_size=1)

    def on_validation_end(self, trainer, pl_module) -> None:
        if trainer.sanity_checking:
            return
        self.step = trainer.global_step
        self.values = {name: float(value) for name, value in sorted(trainer.callback_metrics.items())
                       if name.startswith(PREFIX) and value.numel() == 1}

    def at(self, step: int) -> dict[str, float]:
        """Every validation metric of the validation at `step` (empty when the latest was at another step)."""
        return dict(self.values) if self.step == step else {}
