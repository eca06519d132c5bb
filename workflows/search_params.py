"""Searched parameters: `section.field` keys (`optim.lr`) that a sweep sets on each trial's run. The
workflow sets them on the run's specs (`apply_params`), the runner on the plain resolved config it writes
as best_config.yaml (`apply_params_to_plain`); both accept the same keys (pure; safe in workflow code)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

SEARCHABLE_SECTIONS = ("model", "optim", "trainer")
"""The config sections a search space may set fields of."""

Run = TypeVar("Run")


def apply_params(base: Run, params: Mapping[str, Any]) -> Run:
    """A copy of `base` (a TrainEvalInput) with each `section.field` parameter set (no config machinery).

    Raises:
        ValueError: a key that names no field of a searchable section.
    """
    run = copy.deepcopy(base)
    for section, name, value in _assignments(params, lambda section, name: hasattr(getattr(run, section), name)):
        setattr(getattr(run, section), name, value)
    return run


def apply_params_to_plain(config: dict[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the plain resolved config with each `section.field` parameter set: the keys `apply_params`
    accepted for a trial (a field the config leaves out is added).

    Raises:
        ValueError: a key outside the searchable sections.
    """
    plain = copy.deepcopy(config)
    for section, name, value in _assignments(params, lambda section, name: True):
        plain[section][name] = value
    return plain


def _assignments(params: Mapping[str, Any], has: Callable[[str, str], bool]) -> Iterator[tuple[str, str, Any]]:
    """(section, field, value) of each parameter, refused unless its section is searchable and `has` it."""
    for key, value in params.items():
        section, _, name = key.partition(".")
        if section not in SEARCHABLE_SECTIONS or not has(section, name):
            raise ValueError(f"search parameter '{key}' must name a field of {', '.join(SEARCHABLE_SECTIONS)}")
        yield section, name, value
