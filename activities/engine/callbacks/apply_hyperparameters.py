"""A resumed fit trains with the hyperparameters it was asked for, not those its checkpoint was saved with.

Lightning restores the optimiser and the LR scheduler from the checkpoint whole: each parameter group's
lr, weight_decay, betas and eps, and the scheduler's base LRs, are the values of the fit that saved it.
A fit resumed with other `optim` values (population-based training's explore step, which perturbs the
hyperparameters of a trial that has just taken over another trial's checkpoint) would silently keep the
old ones. `ApplyHyperparameters` puts the requested values in place once the state is restored.
"""

from __future__ import annotations

import logging
from typing import cast

from lightning.pytorch.callbacks import Callback
from torch.optim.lr_scheduler import LambdaLR

from activities.engine.layer_decay import wanted_settings
from activities.engine.module import SequenceClassifier

log = logging.getLogger(__name__)

SETTINGS = ("initial_lr", "lr", "weight_decay", "betas", "eps")
"""What a parameter group holds that the request decides (`initial_lr` is LambdaLR's base LR)."""


class ApplyHyperparameters(Callback):
    """At the start of a resumed fit, sets the optimiser to the request's `optim` values, from the resume
    step on, with the LR schedule continuing.

    Semantics: the schedule is the one the request defines (`optim.warmup_ratio`, `optim.scheduler`, over
    `trainer.max_steps`) as a function of the global step, so at resume step s each parameter group's lr
    becomes the new `optim.lr` x its layer's share (`engine.layer_decay`, by the new `optim.layer_decay`)
    x the schedule's multiplier at s (not the multiplier restarting at 0, and not the old LR), and every
    later step follows the same curve scaled by the new lr. The scheduler's base LRs (each group's
    `initial_lr`) become the new `optim.lr` x the group's share; `optim.weight_decay` applies to the
    groups that decay (biases and LayerNorm weights stay at 0); `optim.betas` and `optim.eps` to all.
    The Adam moments, the step count and the weights carry on unchanged. A resume with the values the
    checkpoint holds changes nothing (segments stay bit-identical to an uninterrupted fit); a change is
    logged once."""

    def on_train_start(self, trainer, pl_module) -> None:
        if trainer.global_step == 0:  # a fresh fit: the optimiser was just built from the request
            return
        module = cast(SequenceClassifier, pl_module)
        optimizer = trainer.optimizers[0]
        schedule = cast(LambdaLR, trainer.lr_scheduler_configs[0].scheduler)
        # the multiplier comes from the request's schedule: a checkpoint keeps LambdaLR's counter
        # (last_epoch, the global step) but not its lambda, which the module built from `module.optim`
        multipliers = [multiplier(schedule.last_epoch) for multiplier in schedule.lr_lambdas]
        changes: dict[str, tuple] = {}  # setting -> (old, new), of the group that decays: for the log
        touched = False
        for index, (group, factor) in enumerate(zip(optimizer.param_groups, multipliers, strict=True)):
            settings = wanted_settings(group, index, module.optim)
            # the lr as LambdaLR computes it, so an unchanged one compares equal bit for bit
            target = {**settings, "initial_lr": settings["lr"], "lr": settings["lr"] * factor}
            for key in SETTINGS:
                old = tuple(group[key]) if key == "betas" else group[key]
                if old != target[key]:
                    group[key], touched = target[key], True
                    if index == 0:
                        changes[key] = (old, target[key])
        if not touched:
            return
        schedule.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        schedule._last_lr = [group["lr"] for group in optimizer.param_groups]
        log.info("resumed at step %d with new hyperparameters: %s", trainer.global_step,
                 ", ".join(f"{KEYS[key]} {show(old)} -> {show(new)}" for key, (old, new) in changes.items()))


KEYS = {"initial_lr": "optim.lr", "lr": "lr at this step", "weight_decay": "optim.weight_decay",
        "betas": "optim.betas", "eps": "optim.eps"}
"""The config key (or what it is) of each parameter-group setting, for the log."""


def show(value) -> str:
    return f"({', '.join(f'{v:g}' for v in value)})" if isinstance(value, tuple) else f"{value:g}"
