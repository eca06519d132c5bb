"""`ladder=pbt`'s config: the population-based training keys resolved into a `PbtSpec` and the population's
perturbation boundaries (the sweep's rungs), each error naming its key, its value and what is valid."""

from __future__ import annotations

import dataclasses
from typing import Any

from workflows.payloads.errors import ConfigError
from workflows.payloads.specs import ParamSpec, PbtSpec
from workflows.schedulers.pbt import validate
from workflows.schedulers.pbt_scheduler import boundaries
from workflows.search_params import MODEL_KEY


def pbt_plan(ladder: dict[str, Any], max_steps: int, space: list[ParamSpec]) -> tuple[list[float], PbtSpec]:
    """(the boundaries in steps, the PBT keys) of a `ladder=pbt` config; the population is its n_trials.
    The successive-halving keys (rungs, min_budget, max_budget, eta) play no part: an experiment that sets
    them for another kind runs as PBT with `ladder=pbt`."""
    spec = PbtSpec(**{f.name: ladder[f.name] for f in dataclasses.fields(PbtSpec)})
    spec.perturbation_factors = [float(f) for f in spec.perturbation_factors]
    if ladder["unit"] != "steps":
        raise ConfigError(f"ladder.unit is '{ladder['unit']}', but ladder=pbt counts perturbation_interval and "
                          f"burn_in in steps; use ladder.unit=steps")
    validate(spec, space)
    for p in space:  # an exploit copies another member's weights, which must fit the member's model and space
        if p.key == MODEL_KEY:
            raise ConfigError("search_space.params.model searches the model, but ladder=pbt copies weights between "
                              "members, which needs one model; use ladder=sha or asha")
        if p.when:
            raise ConfigError(f"search_space.params.{p.key} has when={p.when}, but ladder=pbt perturbs every parameter "
                              f"of every member; use ladder=sha or asha, or drop `when`")
    if spec.perturbation_interval >= max_steps:
        raise ConfigError(f"ladder.perturbation_interval is {spec.perturbation_interval}, but must be below "
                          f"trainer.max_steps ({max_steps}) so that the population is perturbed at least once")
    if spec.burn_in >= max_steps:
        raise ConfigError(f"ladder.burn_in is {spec.burn_in}, but must be below trainer.max_steps ({max_steps})")
    return boundaries(spec.perturbation_interval, max_steps), spec
