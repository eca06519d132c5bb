"""The Trainer arguments and callbacks of the optional training options (`trainer.accumulate_grad_batches`,
`trainer.early_stopping_*`, `model.freeze_steps`), so `fitting.fit` adds them in one place: each is absent
at its default, which leaves a fit exactly as it was without the option."""

from __future__ import annotations

from lightning.pytorch.callbacks import Callback

from activities.engine.callbacks.early_stopping import ResumableEarlyStopping
from activities.engine.callbacks.freeze_encoder import FreezeEncoder
from activities.engine.callbacks.step_validation import NEVER, StepValidation
from workflows.payloads.messages import TrainRequest


def trainer_arguments(request: TrainRequest) -> dict:
    """Lightning Trainer arguments: the accumulation, and validation every `val_every_n_steps` optimiser
    steps (counted in batches by Lightning without accumulation; by `StepValidation` with it)."""
    spec = request.trainer
    if spec.accumulate_grad_batches == 1:
        return {"val_check_interval": spec.val_every_n_steps}
    return {"val_check_interval": NEVER, "accumulate_grad_batches": spec.accumulate_grad_batches}


def option_callbacks(request: TrainRequest) -> list[Callback]:
    """The callbacks the request's options need (none at their defaults)."""
    spec, callbacks = request.trainer, list[Callback]()
    if spec.accumulate_grad_batches > 1:
        callbacks.append(StepValidation(spec.val_every_n_steps))
    if spec.early_stopping_patience > 0:
        callbacks.append(ResumableEarlyStopping(
            monitor=spec.monitor, mode=spec.monitor_mode, patience=spec.early_stopping_patience,
            min_delta=spec.early_stopping_min_delta, check_on_train_epoch_end=False, verbose=False))
    if request.model.freeze_steps > 0:
        callbacks.append(FreezeEncoder(request.model.freeze_steps))
    return callbacks


def stopped_early(callbacks: list[Callback]) -> bool:
    """Whether early stopping ended the fit (now, or before the checkpoint it resumed from)."""
    return any(isinstance(c, ResumableEarlyStopping) and c.stopped for c in callbacks)


def resave_last(callbacks: list[Callback]) -> bool:
    """Whether the fit's last checkpoint is saved again after the fit, over the step checkpoint of the same
    step: with early stopping, whose count of validations without improvement must include the validation
    at that step. A step checkpoint is written as the step ends, before the validation at that step, which
    a resumed fit does not run again; the next segment (a rung, a scheduled change) resumes from this one."""
    return any(isinstance(c, ResumableEarlyStopping) for c in callbacks)
