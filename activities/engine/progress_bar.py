"""The process-wide switch for Lightning's progress bar in each training's `Trainer`.

A worker turns it on (`train-tune worker progress_bar=true`); the runner leaves it off, since its live
table shows progress instead. Torch-free, so the command line sets it without loading Lightning.
"""

from __future__ import annotations


class _ProgressBar:
    on = False
    """Lightning's progress bar for each training (a worker turns it on: `train-tune worker progress_bar=`);
    off in the runner, whose live table shows progress instead."""


PROGRESS_BAR = _ProgressBar()


def show_progress_bar(on: bool) -> None:
    """Turn Lightning's progress bar on or off for the trainings this process starts from now on."""
    PROGRESS_BAR.on = on
