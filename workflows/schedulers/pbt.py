"""Population-based training (PBT; Jaderberg et al., "Population Based Training of Neural Networks", 2017):
a population of members trains side by side; at each perturbation boundary the members in the bottom
quantile copy the weights of a member in the top quantile (exploit: truncation selection) and perturb the
copied hyperparameters (explore), so hyperparameters become schedules over steps.

This module only decides (pure, stdlib only, safe in workflow code: no I/O, no clock; every random draw
comes from the `random.Random` the caller passes, seeded by the workflow). `Pbt.decide` takes the
population (`PbtMember`: number, step, last verified checkpoint step, score, params) and returns one
`PbtDecision` per bottom member, by these rules:

- Ranked: members with a score (not None) at a step >= `burn_in`; the others are left alone (neither
  targets nor sources). Better first by the direction, NaN (a diverged training) last, ties to the lower
  member number. Fewer than 2 ranked: no decision.
- Quantile size: k = ceil(n * quantile), at most floor(n / 2), of the n ranked (so the two quantiles never
  overlap and a member never exploits itself): the top k and the bottom k.
- Exploit: each bottom member, in number order, copies a top member drawn uniformly (`rng.choice`, over the
  top members in number order) among those whose verified checkpoint is at their current step
  (`checkpoint_step == step`) and whose score is strictly better than the bottom member's (so a NaN, which
  can reach the top when more than half the population diverged, is never a source, and a tie, common
  before a fine-tuning starts to learn, copies nothing); none such: a "skip" decision, and the member
  trains on unchanged. The target continues at the source's step (the global step is copied, not reset).
- Explore, per searched parameter in the search space's order, starting from the source's value:
  with `resample_probability`, a fresh value drawn from the space (uniform, or log-uniform for `log`,
  on the `step` grid); else a float/int is multiplied by a factor drawn from `perturbation_factors`,
  clipped to [low, high] and snapped to its step grid (int rounded; an int the rounding would leave
  unchanged moves one step in the factor's direction, so small ints still explore; a log parameter's
  bounds are > 0, so it stays on its scale); a categorical one is kept. Categorical choices here are
  unordered names (e.g. `optim.scheduler`), so Ray's shift to a neighbouring choice would invent an order;
  an ordered choice belongs in an int/float parameter with a step. A value outside the space (or missing)
  is resampled. A float at 0 stays 0 under multiplication: only resampling moves it.
  Parameters outside the search space are copied from the source unchanged.

How it differs from Ray Tune's `PopulationBasedTraining` (ray/tune/schedulers/pbt.py, `_quantiles`,
`_explore`): Ray may choose a source without a checkpoint, and the target then restarts from scratch
(ray#27170); here such a source is never chosen. Ray restores a checkpoint that can overwrite the mutated
config (ray#36660) and has reset the iteration count after a perturbation (ray#11936): here the decision
names the source's checkpoint step the target continues from and the new parameters to apply after the
restore. Ray's perturbed values can leave the declared range (ray#11936): here they are clipped to the
space. Ray shifts categorical values to a neighbour; here they are kept unless resampled (see above).
Ray exploits a member that only ties the target; here a tie copies nothing (before a fine-tuning learns,
accuracies often tie). Ray draws from the global `random` module; here only from the caller's seeded `random.Random`, so the
same seed and population give the same decisions (and a workflow replays them).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from operator import attrgetter
from typing import Any

from workflows.payloads.errors import ConfigError
from workflows.payloads.records import PbtDecision, PbtMember
from workflows.payloads.specs import ParamSpec, PbtSpec
from workflows.ranking import DIRECTIONS, nan_last


def validate(spec: PbtSpec, space: Sequence[ParamSpec]) -> None:
    """Refuse a PBT config that cannot run: one `ConfigError` naming the key, its value and what is valid.

    Args:
        spec: the `ladder=pbt` keys.
        space: the searched parameters: at least one (the runner checks their bounds and types).
    """
    if spec.population < 2:
        raise ConfigError(f"ladder.population is {spec.population}, but must be >= 2 (members exploit each other)")
    if spec.perturbation_interval < 1:
        raise ConfigError(f"ladder.perturbation_interval is {spec.perturbation_interval}, but must be >= 1 (steps)")
    if not 0 < spec.quantile <= 0.5:
        raise ConfigError(f"ladder.quantile is {spec.quantile}, but must be in (0, 0.5] (the bottom and top "
                          f"quantiles may not overlap)")
    if not 0 <= spec.resample_probability <= 1:
        raise ConfigError(f"ladder.resample_probability is {spec.resample_probability}, but must be in [0, 1]")
    factors = spec.perturbation_factors
    if not factors or any(not math.isfinite(f) or f <= 0 for f in factors):
        raise ConfigError(f"ladder.perturbation_factors is {list(factors)}, but must be one or more finite "
                          f"numbers > 0")
    if spec.burn_in < 0:
        raise ConfigError(f"ladder.burn_in is {spec.burn_in}, but must be >= 0 (steps)")
    if not space:
        raise ConfigError("search_space.params is [], but ladder=pbt needs at least one parameter to explore")


def better(score: float | None, than: float | None, direction: str) -> bool:
    """`score` strictly better than `than` (a number beats NaN; NaN beats nothing)."""
    if score is None or math.isnan(score):
        return False
    if than is None or math.isnan(than):
        return True
    return score > than if direction == "maximize" else score < than


def quantile_size(ranked: int, quantile: float) -> int:
    """k = ceil(ranked * quantile), at most floor(ranked / 2): the size of the top and of the bottom
    quantile (0 with fewer than 2 ranked members)."""
    if ranked < 2:
        return 0
    return min(math.ceil(ranked * quantile - 1e-9), ranked // 2)


def ranked(members: Sequence[PbtMember], direction: str, burn_in: int) -> list[PbtMember]:
    """The members that take part, best first (NaN last, ties to the lower number)."""
    if direction not in DIRECTIONS:
        raise ConfigError(f"direction is '{direction}', but must be 'maximize' or 'minimize'")
    scored = [(m.score, m) for m in members if m.score is not None and m.step >= burn_in]
    return [m for score, m in sorted(scored, key=lambda sm: (*nan_last(sm[0], direction), sm[1].number))]


def snap(value: float, p: ParamSpec) -> float | int:
    """`value` clipped to [low, high] and onto the parameter's step grid (int: whole, step 1 by default)."""
    low, high = float(p.low), float(p.high)  # type: ignore[arg-type]
    value = min(max(value, low), high)
    step = p.step if p.step is not None else (1.0 if p.type == "int" else None)
    if step:
        top = math.floor((high - low) / step + 1e-9)
        value = low + min(max(round((value - low) / step), 0), top) * step
        value = round(value, max(0, 6 - math.floor(math.log10(step))))  # 0.15, not 0.15000000000000002
    return int(round(value)) if p.type == "int" else value


def sample(p: ParamSpec, rng: random.Random) -> Any:
    """A value drawn from the parameter's space: a choice, or uniform (log-uniform for `log`) then snapped."""
    if p.type == "categorical":
        return rng.choice(p.choices)
    low, high = float(p.low), float(p.high)  # type: ignore[arg-type]
    if p.type == "int" and not p.log:
        return snap(low + rng.randrange(int((high - low) // (p.step or 1)) + 1) * (p.step or 1), p)
    if p.log:
        return snap(math.exp(rng.uniform(math.log(low), math.log(high))), p)
    return snap(rng.uniform(low, high), p)


def perturb(value: float, factor: float, p: ParamSpec) -> float | int:
    """`value` x `factor`, clipped and snapped (`snap`); an int or stepped value the snapping would leave
    unchanged moves one step in the factor's direction, so small values still explore."""
    moved = snap(value * factor, p)
    if moved == value and value * factor != value and (p.type == "int" or p.step is not None):
        step = p.step or 1
        moved = snap(value + math.copysign(step, value * factor - value), p)
    return moved


def in_space(value: Any, p: ParamSpec) -> bool:
    if p.type == "categorical":
        return value in p.choices
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) \
        and float(p.low) <= value <= float(p.high)  # type: ignore[arg-type]


def explore(params: dict[str, Any], space: Sequence[ParamSpec], spec: PbtSpec,
            rng: random.Random) -> tuple[dict[str, Any], dict[str, str]]:
    """The source's `params` explored (module docstring): the new params and, per searched key, how."""
    new, how = dict(params), {}
    for p in space:
        value: Any = params.get(p.key)
        if rng.random() < spec.resample_probability or not in_space(value, p):
            new[p.key], how[p.key] = sample(p, rng), "resample"
        elif p.type == "categorical":
            how[p.key] = "keep"
        else:
            factor = rng.choice(spec.perturbation_factors)
            new[p.key], how[p.key] = perturb(value, factor, p), f"x{factor:g}"
    return new, how


class Pbt:
    """The decisions of a population-based training at its perturbation boundaries (module docstring).

    Args:
        spec: the `ladder=pbt` keys (`validate` them first).
        space: the searched parameters; explore perturbs or resamples these.
        direction: 'minimize' or 'maximize' the members' scores.
    """

    def __init__(self, spec: PbtSpec, space: Sequence[ParamSpec], direction: str) -> None:
        self.spec, self.space, self.direction = spec, list(space), direction

    def quantiles(self, members: Sequence[PbtMember]) -> tuple[list[PbtMember], list[PbtMember], int]:
        """(top, bottom) quantile, each in member-number order, and how many members were ranked."""
        order = ranked(members, self.direction, self.spec.burn_in)
        k = quantile_size(len(order), self.spec.quantile)
        if k == 0:
            return [], [], len(order)
        number = attrgetter("number")
        return sorted(order[:k], key=number), sorted(order[-k:], key=number), len(order)

    def decide(self, members: Sequence[PbtMember], rng: random.Random) -> list[PbtDecision]:
        """One decision per bottom member, in number order: exploit a verified top member and explore its
        parameters, or skip when no top member has a verified checkpoint at its step."""
        top, bottom, n = self.quantiles(members)
        decisions = []
        for target in bottom:
            sources = [m for m in top if m.checkpoint_step == m.step and m.number != target.number
                       and not math.isnan(m.score or 0.0) and better(m.score, target.score, self.direction)]
            if not sources:
                decisions.append(PbtDecision(
                    kind="skip", target=target.number, step=target.step, target_score=target.score,
                    old_params=dict(target.params), new_params=dict(target.params),
                    reason=f"no top member ({', '.join(str(m.number) for m in top)}) scores better than it "
                           f"with a verified checkpoint at its step"))
                continue
            source = rng.choice(sources)
            new, how = explore(source.params, self.space, self.spec, rng)
            decisions.append(PbtDecision(
                kind="exploit", target=target.number, source=source.number, step=source.checkpoint_step,
                target_score=target.score, source_score=source.score, old_params=dict(target.params),
                source_params=dict(source.params), new_params=new, how=how,
                reason=f"bottom {len(bottom)} of {n} ranked by {self.direction}; copies member "
                       f"{source.number} at step {source.checkpoint_step}"))
        return decisions
