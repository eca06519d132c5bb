"""suggest for multi-objective and constrained sweeps: TPE's multi-objective mode and NSGA-II propose
deterministically from a rebuilt study, NSGA-II breeds from full generations, pruned trials count as
complete with their vector, and constraint values reach the samplers where Optuna reads them."""

from __future__ import annotations

import math

import optuna
import pytest

from activities.suggest import CONSTRAINTS_KEY, distributions, rebuilt_study, suggest_params
from workflows.payloads.messages import FinishedTrial, SuggestRequest
from workflows.payloads.specs import ParamSpec, SamplerSpec

SPACE = [ParamSpec(key="optim.lr", type="float", low=1e-5, high=1e-1, log=True),
         ParamSpec(key="model.dropout", type="float", low=0.0, high=0.5)]
DIRECTIONS = ["maximize", "minimize"]


def objectives(params) -> list[float]:
    """A trade-off: 'accuracy' peaks at lr 1e-3, 'latency' grows with dropout."""
    return [1 - (math.log10(params["optim.lr"]) + 3) ** 2 / 10, 1 + 10 * params["model.dropout"]]


def history(sampler: SamplerSpec, n: int) -> list[FinishedTrial]:
    trials: list[FinishedTrial] = []
    for number in range(n):
        params = suggest_params(SuggestRequest(SPACE, sampler, "minimize", list(trials), number,
                                               directions=DIRECTIONS)).params
        values = objectives(params)
        trials.append(FinishedTrial(number=number, params=params, state="complete" if number % 3 else "pruned",
                                    step=10, value=values[0], values=values, constraints=[values[1] - 4]))
    return trials


@pytest.mark.parametrize("name", ["tpe", "nsga2"])
def test_multi_objective_samplers_propose_the_same_for_the_same_request(name):
    sampler = SamplerSpec(name=name, seed=3, n_startup_trials=4, population_size=4)
    trials = history(sampler, 10)
    assert trials == history(sampler, 10)  # every proposal, made again from the same requests
    request = SuggestRequest(SPACE, sampler, "minimize", trials, 10, directions=DIRECTIONS)
    first, again = suggest_params(request), suggest_params(request)
    assert first == again and first.reason == name
    assert 1e-5 <= first.params["optim.lr"] <= 1e-1 and 0 <= first.params["model.dropout"] <= 0.5


def test_nsga2_breeds_from_full_generations():
    sampler = SamplerSpec(name="nsga2", seed=1, population_size=4)
    trials = history(sampler, 12)
    study = rebuilt_study(SuggestRequest(SPACE, sampler, "minimize", trials, 12, directions=DIRECTIONS))
    study.ask(distributions(SPACE))
    generations = [study.sampler.get_trial_generation(study, t) for t in study.trials]
    assert generations == [0] * 4 + [1] * 4 + [2] * 4 + [3]  # the new trial is bred from generation 2


@pytest.mark.parametrize("name", ["tpe", "nsga2"])
def test_constraints_and_pruned_trials_reach_the_study_as_optuna_keeps_them(name):
    sampler = SamplerSpec(name=name, seed=3, population_size=4)
    trials = history(sampler, 6)
    trials.append(FinishedTrial(number=6, params=trials[0].params, state="pruned", values=[math.nan, 1.0]))
    study = rebuilt_study(SuggestRequest(SPACE, sampler, "minimize", trials, 7, directions=DIRECTIONS))
    states = [t.state for t in study.trials]
    assert states == [optuna.trial.TrialState.COMPLETE] * 6 + [optuna.trial.TrialState.FAIL]  # NaN: learns nothing
    assert [list(t.values) for t in study.trials[:6]] == [f.values for f in trials[:6]]
    stored = [list(t.system_attrs[CONSTRAINTS_KEY]) for t in study.trials[:6]]
    assert stored == [f.constraints for f in trials[:6]]
    from optuna.study._constrained_optimization import _CONSTRAINTS_KEY  # the key Optuna's samplers read

    assert CONSTRAINTS_KEY == _CONSTRAINTS_KEY


def test_one_objective_with_constraints_keeps_pruned_trials_pruned():
    sampler = SamplerSpec(name="tpe", seed=0)
    trials = [FinishedTrial(number=0, params={"optim.lr": 1e-3, "model.dropout": 0.1}, state="pruned", value=0.5,
                            step=10, constraints=[0.2])]
    study = rebuilt_study(SuggestRequest(SPACE, sampler, "minimize", trials, 1))
    assert study.trials[0].state == optuna.trial.TrialState.PRUNED
    assert list(study.trials[0].system_attrs[CONSTRAINTS_KEY]) == [0.2]
