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

Several objectives (`SuggestRequest.directions`): the study is multi-objective and each trial is added with
its objective vector; TPE then splits trials by non-dominated sorting (its multi-objective mode) and NSGA-II
(`nsga2`) breeds from its latest full generation. Optuna's multi-objective studies take no intermediate
values (`Trial.report` refuses them; TPE ranks pruned trials by their last intermediate value in the
study's one direction), so a trial the ladder stopped below the top rung is added COMPLETE with the vector
it reached there: it stays in what the sampler learns from (with deterministic proposals every trial is
taught through its first-rung vector, all at the same budget), and a lower-rung vector is mostly dominated
by the better-trained ones where that matters. Constraints (`FinishedTrial.constraints`) reach the
samplers as Optuna's own: stored under its constraints key, read through the sampler's `constraints_func`,
so infeasible trials rank after feasible ones.
"""

from __future__ import annotations

import itertools
import math
import random
import warnings
from typing import Any

from temporalio import activity

from activities.errors import non_retryable
from workflows.conditional_space import (
    MODEL_KEY,
    active_params,
    check_conditions,
    is_active,
    is_conditional,
    ordered,
    param_name,
)
from workflows.payloads.choices import SAMPLERS
from workflows.payloads.errors import ConfigError
from workflows.payloads.messages import FinishedTrial, Suggestion, SuggestRequest
from workflows.payloads.specs import ParamSpec, SamplerSpec

STATES = {"complete": "COMPLETE", "pruned": "PRUNED", "failed": "FAIL"}
CONSTRAINTS_KEY = "constraints"
"""Where Optuna's samplers read a finished trial's constraint values: `optuna.samplers._base`'s
`_CONSTRAINTS_KEY` in its system attributes (`constraints_func` stores them there after a trial ends)."""


def validate_space(space: list[ParamSpec]) -> None:
    """Ranges and types: low < high, log needs low > 0, categorical needs choices; no key twice, unless its
    `when`s exclude each other (`workflows.conditional_space.check_conditions`)."""
    if not space:
        raise ConfigError("search_space.params is empty, but a sweep needs at least one parameter")
    seen: set[str] = set()
    for p in space:
        where = f"search_space.params.{p.key}"
        if p.key in seen and not any(q.when for q in space if q.key == p.key):
            raise ConfigError(f"{where} appears twice; each config key may be searched once (or once per `when`)")
        seen.add(p.key)
        if p.key == MODEL_KEY:
            check_model_param(p)
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
    check_conditions(space)


def check_model_param(p: ParamSpec) -> None:
    """`model` is searched over `model` config-group options, in every trial."""
    if p.type != "categorical" or not p.choices or not all(isinstance(c, str) and c for c in p.choices):
        raise ConfigError(f"search_space.params.model is type {p.type} with choices {list(p.choices)}, but searching "
                          f"the model needs type categorical over model options (e.g. [bert_tiny, minilm_l6])")
    if p.when:
        raise ConfigError(f"search_space.params.model has when={p.when}, but the model is chosen in every trial; "
                          f"put `when` on the parameters that depend on it")


def _bounds(p: ParamSpec) -> tuple[float, float]:
    """(low, high) of a numeric parameter; `validate_space` has checked that both are set."""
    assert p.low is not None and p.high is not None, p.key
    return float(p.low), float(p.high)


def distributions(space: list[ParamSpec]) -> dict[str, Any]:
    """Each parameter's Optuna distribution under its sampler name (`param_name`: the key, unless conditional)."""
    return {param_name(p): distribution(p) for p in space}


def distribution(p: ParamSpec):
    import optuna  # slow to import, only to suggest: the runner and the workflow sandbox import this module

    if p.type == "categorical":
        return optuna.distributions.CategoricalDistribution(list(p.choices))
    low, high = _bounds(p)
    if p.type == "int":
        return optuna.distributions.IntDistribution(int(low), int(high), log=p.log, step=int(p.step or 1))
    return optuna.distributions.FloatDistribution(low, high, log=p.log, step=p.step)


def key_distributions(space: list[ParamSpec], params: dict[str, Any]) -> dict[str, Any]:
    """The distribution each of a trial's parameters (config keys) was drawn from: its active spec's."""
    return {p.key: distribution(p) for p, _ in active_params(space, params)}


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


def stored_constraints(trial) -> list[float]:
    """The samplers' `constraints_func`: the constraint values the sweep measured for `trial` (a user
    attribute under CONSTRAINTS_KEY, or already where Optuna keeps them)."""
    return list(trial.user_attrs.get(CONSTRAINTS_KEY) or trial.system_attrs.get(CONSTRAINTS_KEY) or [])


def make_sampler(spec: SamplerSpec, space: list[ParamSpec], number: int, constrained: bool = False):
    import optuna  # slow to import, only to suggest: the runner and the workflow sandbox import this module

    if spec.name in ("tpe", "nsga2"):
        constraints_func = stored_constraints if constrained else None
        with warnings.catch_warnings():  # Optuna 5 prefers Trial.set_constraint (a live trial); 4 needs this
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            if spec.name == "nsga2":
                return optuna.samplers.NSGAIISampler(seed=_trial_seed(spec.seed, number),
                                                     population_size=spec.population_size,
                                                     constraints_func=constraints_func)
            if is_conditional(space):  # TPE models which parameters go together
                return optuna.samplers.TPESampler(seed=_trial_seed(spec.seed, number),
                                                  n_startup_trials=spec.n_startup_trials,
                                                  constraints_func=constraints_func, multivariate=True, group=True)
            # Optuna's own defaults otherwise (explicit values may differ from them across its versions)
            return optuna.samplers.TPESampler(seed=_trial_seed(spec.seed, number),
                                              n_startup_trials=spec.n_startup_trials, constraints_func=constraints_func)
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
    ask once for trial `request.number`, define-by-run: each parameter in `ordered` order, only when its
    `when` holds for the values chosen before it."""
    import optuna  # slow to import, only to suggest: the runner and the workflow sandbox import this module

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    validate_space(request.space)
    if request.sampler.name in ("grid", "qmc") and is_conditional(request.space):
        raise ConfigError(f"sampler.name is '{request.sampler.name}', but a search space with `when` needs sampler "
                          f"tpe, random or nsga2")
    if request.sampler.name == "grid":  # no Optuna study: an enqueued entry overrides the grid's point
        return Suggestion(number=request.number, params={**grid_point(request.space, request.sampler.seed, request.number),
                                                         **request.enqueued}, reason="enqueued" if request.enqueued else "grid")
    study = rebuilt_study(request)
    if request.enqueued:  # by sampler names: a conditional parameter's is its own (`param_name`)
        study.enqueue_trial({param_name(p): v for p, v in active_params(request.space, request.enqueued)},
                            skip_if_exists=False)
    params = ask(study.ask(), request.space)
    reason = "enqueued" if request.enqueued else _reason(request.sampler, study)
    return Suggestion(number=request.number, params=params, reason=reason)


def ask(trial, space: list[ParamSpec]) -> dict[str, Any]:
    """The trial's parameters by config key: each active one suggested under its `param_name`, in order."""
    import optuna  # slow to import, only to suggest: the runner and the workflow sandbox import this module

    chosen: dict[str, Any] = {}
    for p in ordered(space):
        if p.key in chosen or not is_active(p, chosen):
            continue
        name, dist = param_name(p), distribution(p)
        if isinstance(dist, optuna.distributions.CategoricalDistribution):
            chosen[p.key] = trial.suggest_categorical(name, dist.choices)
        elif isinstance(dist, optuna.distributions.IntDistribution):
            chosen[p.key] = trial.suggest_int(name, dist.low, dist.high, step=dist.step, log=dist.log)
        else:
            chosen[p.key] = trial.suggest_float(name, dist.low, dist.high, step=dist.step, log=dist.log)
    return chosen


def rebuilt_study(request: SuggestRequest):
    """An in-memory study of `request`'s direction(s) and sampler holding the earlier sweeps' trials
    (`warm`), then every trial below `request.number`, as `suggest_params` asks it."""
    import optuna  # slow to import, only to suggest: the runner and the workflow sandbox import this module

    multi = len(request.directions) >= 2
    sampler = make_sampler(request.sampler, request.space, request.number, any(t.constraints for t in request.trials))
    if multi:
        study = optuna.create_study(directions=[optuna.study.StudyDirection.MAXIMIZE if d == "maximize" else
                                                optuna.study.StudyDirection.MINIMIZE for d in request.directions],
                                    sampler=sampler)
    else:
        study = optuna.create_study(
            direction=optuna.study.StudyDirection.MAXIMIZE if request.direction == "maximize"
            else optuna.study.StudyDirection.MINIMIZE, sampler=sampler)
    known = sorted((t for t in request.trials if t.number < request.number), key=lambda t: t.number)
    for finished in [*request.warm, *known]:  # earlier sweeps' trials first, in the order the runner gave them
        frozen = _frozen(finished, request.space, multi)
        if request.sampler.name == "nsga2" and frozen.state == optuna.trial.TrialState.COMPLETE:
            _replay(study, frozen, finished.constraints)
        else:
            study.add_trial(frozen)
    return study


def _reason(spec: SamplerSpec, study) -> str:
    """The `ProposalReason` of the trial just asked: TPE samples at random (Optuna's `TPESampler`) until
    `n_startup_trials` trials are complete or pruned in the study."""
    import optuna  # slow to import, only to suggest: the runner and the workflow sandbox import this module

    if spec.name != "tpe":
        return spec.name
    learned = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED))
    return "startup_random" if len(learned) < spec.n_startup_trials else "tpe"


def _replay(study, frozen, constraints: list[float]) -> None:
    """Add a complete trial to an NSGA-II study the way a live study gets it (asked with its parameters
    enqueued, filed in the generation the sampler gives a trial it starts, then told its values), so NSGA-II
    breeds from full generations of `population_size`; `add_trial` would file it in none, and NSGA-II
    would never breed. (Asking with every parameter fixed samples nothing, so the generation is asked for.)"""
    study.enqueue_trial(frozen.params, skip_if_exists=False)
    trial = study.ask(frozen.distributions)
    study.sampler.get_trial_generation(study, study.get_trials(deepcopy=False)[-1])
    trial.set_user_attr(CONSTRAINTS_KEY, list(constraints))
    study.tell(trial, frozen.values if len(frozen.values) > 1 else frozen.values[0])


def _frozen(trial: FinishedTrial, space: list[ParamSpec], multi: bool = False):
    """The Optuna trial of what the sampler learns from `trial`: its active parameters under their sampler
    names; failed (or without a finite vector, in a multi-objective study) teaches nothing; multi-objective
    ones are COMPLETE with their vector (see the module's docstring); an earlier sweep's rung metrics are
    intermediate values; constraint values go where the samplers read them (CONSTRAINTS_KEY)."""
    import optuna  # slow to import, only to suggest: the runner and the workflow sandbox import this module

    if trial.state == "failed" or (not trial.values if multi else trial.value is None) or (
            multi and not all(map(math.isfinite, trial.values))):  # teaches the sampler nothing
        return optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL)
    state = optuna.trial.TrialState[STATES[trial.state]]
    active = active_params(space, trial.params)
    params = {param_name(p): value for p, value in active}
    used = {param_name(p): distribution(p) for p, _ in active}
    attrs = {CONSTRAINTS_KEY: list(trial.constraints)} if trial.constraints else {}
    if multi:
        return optuna.trial.create_trial(params=params, distributions=used, values=list(trial.values),
                                         state=optuna.trial.TrialState.COMPLETE, system_attrs=attrs)
    assert trial.value is not None  # checked above
    steps = {s: v for s, v in zip(trial.rung_steps, trial.rung_values, strict=False) if math.isfinite(v)}
    if state == optuna.trial.TrialState.PRUNED:
        return optuna.trial.create_trial(
            params=params, distributions=used, state=state, intermediate_values={**steps, trial.step: trial.value},
            system_attrs=attrs)
    return optuna.trial.create_trial(params=params, distributions=used, value=trial.value, state=state,
                                     intermediate_values=steps, system_attrs=attrs)


@activity.defn
def suggest(request: SuggestRequest) -> Suggestion:
    """Propose the parameters of trial `request.number` (deterministic in its inputs)."""
    try:
        return suggest_params(request)
    except ConfigError as error:
        raise non_retryable(error) from error
