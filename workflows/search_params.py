"""Search parameters as `section.field` keys of a run's config: where they may point and how a trial's
parameters make its run (pure; safe in workflow code)."""

from __future__ import annotations

import copy
from typing import Any

from workflows.train_eval import TrainEvalInput

SEARCHABLE_SECTIONS = ("model", "optim", "trainer")
"""Config sections a search parameter may target (dataset keys would change the shared snapshot)."""


def apply_params(base: TrainEvalInput, params: dict[str, Any]) -> TrainEvalInput:
    """A copy of `base` with each `section.field` parameter set (pure; no config machinery)."""
    run = copy.deepcopy(base)
    for key, value in params.items():
        section, _, name = key.partition(".")
        if section not in SEARCHABLE_SECTIONS or not hasattr(getattr(run, section), name):
            raise ValueError(f"search parameter '{key}' must name a field of {', '.join(SEARCHABLE_SECTIONS)}")
        setattr(getattr(run, section), name, value)
    return run
