"""Real training outside Temporal for the benchmarks' peer arms: the sweep's snapshot and train-tune's own
`fit`, called in this process as the activities would. The analytic stand-in for training (and the sweep
environment it runs in) is `tests.support.standin_training`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any


def snapshot_of(sweep) -> Any:
    """The sweep's dataset snapshot, built (or reused) in this process as the `snapshot_dataset` activity would."""
    from activities.snapshot import build_snapshot
    from workflows.payloads.messages import SnapshotRequest

    return build_snapshot(SnapshotRequest(dataset=sweep.base.dataset, tokenizer=sweep.base.model.tokenizer,
                                          run_root=sweep.base.run_root))


def fit_segment(sweep, snapshot, params: dict, folder: str, stop_at: int = 0, resume: Path | None = None) -> Any:
    """Train one trial of `sweep` with `params` up to `stop_at` (0: its max_steps), from `resume` if given:
    the request `LadderSweepWorkflow` sends, run by `fit` in this process. Returns the TrainResult."""
    import threading

    from activities.engine.fitting import fit
    from workflows.payloads.messages import TrainRequest
    from workflows.search_params import apply_params

    run = apply_params(sweep.base, params)
    request = TrainRequest(model=run.model, optim=run.optim, trainer=run.trainer, snapshot=snapshot, seed=run.seed,
                           checkpoint_dir=folder, stop_at_step=stop_at, run_root=run.run_root, signal_progress=False,
                           logger=run.logger)
    return fit(request, resume, lambda progress: None, threading.Event(), attempt=1)


def train_in_segments(trial, steps: list[int], train_to: Callable[[int, int], float]) -> float:
    """Optuna's side of a trial trained rung by rung: `train_to(step, done)` trains from step `done` to
    `step` and returns the metric there, which is reported; the trial is pruned wherever the study's pruner
    says so (never after the last step). Returns the last metric."""
    import optuna

    done, value = 0, float("nan")
    for step in steps:
        value = train_to(step, done)
        done = step
        trial.report(value, step)
        if step < steps[-1] and trial.should_prune():
            raise optuna.TrialPruned()
    return value
