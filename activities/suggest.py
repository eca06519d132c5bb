"""suggest: the next trial's parameters from an Optuna sampler, as a pure function of its inputs.

The study is rebuilt in memory from the trials the workflow passes in (search space, finished and pruned
trials, seed, trial number), so the same request always gives the same parameters and the recorded
activity result makes a workflow's replay exact. TPE and random are seeded with (seed, trial number), so
trials asked while others still run differ. QMC and grid need no history: trial n takes point n of the
scrambled Sobol sequence, or point n of the grid in a seeded shuffled order (cycling once all are used),
so trials asked in parallel never share a point.

Warm starts and defaults go through Optuna's own mechanisms: an earlier sweep's trials (`warm_start.from`)
enter the study first with `study.add_trial`, with their rung metrics as intermediate values; an `enqueue:`
entry is put with `study.enqueue_trial` before the one `ask`, which then returns it (keys it leaves out are
sampled), so TPE learns from enqueued trials as from any other.
"""

from __future__ import annotations

import itertools
import math
import random
import warnings
from typing import Any

from temporalio import activity

from activities.errors import non_retryable
from workflows.payloads.choices import SAMPLERS
from workflows.payloads.errors import ConfigError
from workflows.payloads.messages import FinishedTrial, Suggestion, SuggestRequest
from workflows.payloads.specs import ParamSpec, SamplerSpec

STATES = {"complete": "COMPLETE", "pruned": "PRUNED", "failed": "FAIL"}


def validate_space(space: list[ParamSpec]) -> None:
    """Ranges and types: low < high, log needs low > 0, categorical needs choices; no key twice."""
    if not space:
        raise ConfigError("search_space.params is empty, but a sweep needs at least one parameter")
    seen: set[str] = set()
    for p in space:
        where = f"search_space.params.{p.key}"
        if p.key in seen:
            raise ConfigError(f"{where} appears twice; each config key may be searched once")
        seen.add(p.key)
        if p.type == "categorical":
            if not p.choices:
                raise ConfigError(f"{where}.choices is empty, but a categorical parameter needs choices")
            continue
        if p.type not in ("float", "int"):
            raise ConfigError(f"{where}.type is '{p.type}', but must be float, int or categorical")
        if p.low is None or p.high is None or not p.low < p.high:
            raise ConfigError(f"{where} has low={p.low}, high={p.high}, but needs low < high")
        if p.log and p.low <= 0:
            raise ConfigError(f"{where} has log=true with low={p.low}, but a log scale needs low > 0")
        if p.log and p.step is not None:
            raise ConfigError(f"{where} has both log=true and step={p.step}; Optuna allows one or the other")


def _bounds(p: ParamSpec) -> tuple[float, float]:
    """(low, high) of a numeric parameter; `validate_space` has checked that both are set."""
    assert p.low is not None and p.high is not None, p.key
    return float(p.low), float(p.high)


def distributions(space: list[ParamSpec]) -> dict[str, Any]:
    import optuna  # slow to import, only to suggest: the runner and the workflow sandbox import this module

    out: dict[str, Any] = {}
    for p in space:
        if p.type == "categorical":
            out[p.key] = optuna.distributions.CategoricalDistribution(list(p.choices))
            continue
        low, high = _bounds(p)
        if p.type == "int":
            out[p.key] = optuna.distributions.IntDistribution(int(low), int(high), log=p.log, step=int(p.step or 1))
        else:
            out[p.key] = optuna.distributions.FloatDistribution(low, high, log=p.log, step=p.step)
    return out


def grid_values(p: ParamSpec) -> list:
    if p.type == "categorical":
        return list(p.choices)
    if p.step is None and p.type == "float":
        raise ConfigError(f"search_space.params.{p.key} is a continuous float; sampler 'grid' needs a step")
    step = p.step or 1
    low, high = _bounds(p)
    count = int(round((high - low) / step)) + 1
    values = [low + i * step for i in range(count)]
    return [int(v) for v in values] if p.type == "int" else values


def grid_point(space: list[ParamSpec], seed: int, number: int) -> dict[str, Any]:
    """Point `number mod size` of the grid (the product of every parameter's values) shuffled by `seed`."""
    grid = list(itertools.product(*(grid_values(p) for p in space)))
    random.Random(seed).shuffle(grid)
    return dict(zip((p.key for p in space), grid[number % len(grid)], strict=False))


def make_sampler(spec: SamplerSpec, space: list[ParamSpec], number: int):
    import optuna  # slow to import, only to suggest: the runner and the workflow sandbox import this module

    if spec.name == "tpe":
        return optuna.samplers.TPESampler(seed=_trial_seed(spec.seed, number), n_startup_trials=spec.n_startup_trials)
    if spec.name == "random":
        return optuna.samplers.RandomSampler(seed=_trial_seed(spec.seed, number))
    if spec.name == "qmc":
        return _indexed_qmc(spec.seed, number, distributions(space))
    raise ConfigError(f"sampler.name is '{spec.name}', but must be one of: {', '.join(SAMPLERS)}")


def _indexed_qmc(seed: int, number: int, space: dict[str, Any]):
    """Optuna's QMCSampler counts the samples one long-lived study has drawn; a study rebuilt for each
    request would always draw sample 0. This one draws sample `number` of the same scrambled sequence,
    and samples the whole space from the first trial on (Optuna's first trial is random)."""
    import optuna  # slow to import, only to suggest: the runner and the workflow sandbox import this module

    class IndexedQMCSampler(optuna.samplers.QMCSampler):
        def infer_relative_search_space(self, study, trial):
            return space

        def _find_sample_id(self, study, search_space):
            return number

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return IndexedQMCSampler(seed=seed, scramble=True)


def _trial_seed(seed: int, number: int) -> int:
    return (seed * 1_000_003 + number) % (2**32)


def suggest_params(request: SuggestRequest) -> Suggestion:
    """Rebuild the study from `request.trials` (TPE learns from them; random, QMC and grid need none) and
    ask once for trial `request.number`."""
    import optuna  # slow to import, only to suggest: the runner and the workflow sandbox import this module

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    validate_space(request.space)
    if request.sampler.name == "grid":  # no Optuna study: an enqueued entry overrides the grid's point
        return Suggestion(number=request.number, params={**grid_point(request.space, request.sampler.seed, request.number),
                                                         **request.enqueued}, reason="enqueued" if request.enqueued else "grid")
    dists = distributions(request.space)
    study = optuna.create_study(
        direction=optuna.study.StudyDirection.MAXIMIZE if request.direction == "maximize"
        else optuna.study.StudyDirection.MINIMIZE, sampler=make_sampler(request.sampler, request.space, request.number)
    )
    for earlier in request.warm:  # earlier sweeps' trials first, in the order the runner gave them
        study.add_trial(_frozen(earlier, dists))
    for known in sorted((t for t in request.trials if t.number < request.number), key=lambda t: t.number):
        study.add_trial(_frozen(known, dists))
    if request.enqueued:
        study.enqueue_trial(dict(request.enqueued), skip_if_exists=False)
    trial = study.ask(dists)
    reason = "enqueued" if request.enqueued else _reason(request.sampler, study)
    return Suggestion(number=request.number, params=dict(trial.params), reason=reason)


def _reason(spec: SamplerSpec, study) -> str:
    """The `ProposalReason` of the trial just asked: TPE samples at random (Optuna's `TPESampler`) until
    `n_startup_trials` trials are complete or pruned in the study."""
    import optuna  # slow to import, only to suggest: the runner and the workflow sandbox import this module

    if spec.name != "tpe":
        return spec.name
    learned = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED))
    return "startup_random" if len(learned) < spec.n_startup_trials else "tpe"


def _frozen(trial: FinishedTrial, dists: dict):
    import optuna  # slow to import, only to suggest: the runner and the workflow sandbox import this module

    if trial.state == "failed" or trial.value is None:  # teaches the sampler nothing
        return optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL)
    state = optuna.trial.TrialState[STATES[trial.state]]
    params = {k: v for k, v in trial.params.items() if k in dists}
    used = {k: dists[k] for k in params}
    steps = {s: v for s, v in zip(trial.rung_steps, trial.rung_values, strict=False) if math.isfinite(v)}
    if state == optuna.trial.TrialState.PRUNED:
        return optuna.trial.create_trial(
            params=params, distributions=used, state=state, intermediate_values={**steps, trial.step: trial.value}
        )
    return optuna.trial.create_trial(params=params, distributions=used, value=trial.value, state=state,
                                     intermediate_values=steps)


@activity.defn
def suggest(request: SuggestRequest) -> Suggestion:
    """Propose the parameters of trial `request.number` (deterministic in its inputs)."""
    try:
        return suggest_params(request)
    except ConfigError as error:
        raise non_retryable(error) from error
