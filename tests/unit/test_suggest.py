"""suggest is a pure function of its inputs, and TPE concentrates near a known optimum."""

from __future__ import annotations

import math

import pytest

from activities.suggest import suggest_params, validate_space
from workflows.payloads.errors import ConfigError
from workflows.payloads.messages import FinishedTrial, SuggestRequest
from workflows.payloads.specs import ParamSpec, SamplerSpec

SPACE = [
    ParamSpec(key="optim.lr", type="float", low=1e-5, high=1e-1, log=True),
    ParamSpec(key="trainer.batch_size", type="categorical", choices=[16, 32, 64]),
    ParamSpec(key="model.dropout", type="float", low=0.0, high=0.5, step=0.1),
]


def objective(params) -> float:
    """Known optimum at lr = 1e-3 (any batch size, dropout 0.1)."""
    return -((math.log10(params["optim.lr"]) + 3) ** 2) - (params["model.dropout"] - 0.1) ** 2


def run_sequential(sampler: str, n: int, seed: int = 0) -> list[dict]:
    trials: list[FinishedTrial] = []
    for number in range(n):
        request = SuggestRequest(SPACE, SamplerSpec(name=sampler, seed=seed), "maximize", list(trials), number)
        params = suggest_params(request).params
        trials.append(FinishedTrial(number=number, params=params, state="complete", value=objective(params)))
    return [t.params for t in trials]


@pytest.mark.parametrize("sampler", ["tpe", "random", "qmc"])
def test_same_inputs_same_params(sampler):
    assert run_sequential(sampler, 8) == run_sequential(sampler, 8)


def test_grid_walks_distinct_points_deterministically():
    space = [ParamSpec(key="optim.lr", type="categorical", choices=[1e-4, 3e-4, 1e-3]),
             ParamSpec(key="seed", type="int", low=0, high=1)]

    def walk() -> list[tuple]:
        trials: list[FinishedTrial] = []
        for number in range(6):
            params = suggest_params(SuggestRequest(space, SamplerSpec(name="grid"), "maximize", list(trials), number)).params
            trials.append(FinishedTrial(number, params, "complete", 0.0))
        return [tuple(sorted(t.params.items())) for t in trials]

    first = walk()
    assert first == walk() and len(set(first)) == 6


def test_grid_needs_a_step_for_floats():
    request = SuggestRequest(SPACE, SamplerSpec(name="grid"), "maximize", [], 0)
    with pytest.raises(ConfigError, match="sampler 'grid' needs a step"):
        suggest_params(request)


def test_different_seed_or_number_gives_different_params():
    assert run_sequential("tpe", 6, seed=0) != run_sequential("tpe", 6, seed=1)
    same_history = SuggestRequest(SPACE, SamplerSpec(seed=0), "maximize", [], 0)
    other_number = SuggestRequest(SPACE, SamplerSpec(seed=0), "maximize", [], 1)
    assert suggest_params(same_history).params != suggest_params(other_number).params


def test_params_respect_the_space():
    for params in run_sequential("random", 20):
        assert 1e-5 <= params["optim.lr"] <= 1e-1
        assert params["trainer.batch_size"] in (16, 32, 64)
        assert round(params["model.dropout"] * 10) == pytest.approx(params["model.dropout"] * 10)


def test_tpe_concentrates_near_the_optimum():
    history = run_sequential("tpe", 40)
    distance = [abs(math.log10(p["optim.lr"]) + 3) for p in history]
    early, late = sorted(distance[:10]), sorted(distance[-15:])
    assert late[len(late) // 2] < early[len(early) // 2] / 2, (early, late)
    assert late[len(late) // 2] < 0.5


def test_pruned_and_failed_trials_are_accepted():
    trials = [
        FinishedTrial(0, {"optim.lr": 1e-3, "trainer.batch_size": 16, "model.dropout": 0.1}, "complete", -0.1),
        FinishedTrial(1, {"optim.lr": 1e-2, "trainer.batch_size": 32, "model.dropout": 0.2}, "pruned", -2.0, step=50),
        FinishedTrial(2, {"optim.lr": 1e-4, "trainer.batch_size": 64, "model.dropout": 0.3}, "failed"),
    ]
    params = suggest_params(SuggestRequest(SPACE, SamplerSpec(), "maximize", trials, 3)).params
    assert set(params) == {"optim.lr", "trainer.batch_size", "model.dropout"}


@pytest.mark.parametrize(
    "space, message",
    [
        ([], "search_space.params is empty"),
        ([ParamSpec(key="optim.lr", type="float", low=1e-2, high=1e-3)], "needs low < high"),
        ([ParamSpec(key="optim.lr", type="float", low=0.0, high=1e-3, log=True)], "log scale needs low > 0"),
        ([ParamSpec(key="model.dropout", type="categorical")], "choices is empty"),
        ([ParamSpec(key="seed", type="bool", low=0, high=1)], "type is 'bool'"),
    ],
)
def test_bad_spaces_name_the_key(space, message):
    with pytest.raises(ConfigError, match=message):
        validate_space(space)


def test_qmc_trial_n_takes_point_n_of_the_scrambled_sobol_sequence():
    """Asked in any order and without history (trials in parallel), trial n gets Sobol point n."""
    from scipy.stats import qmc

    space = [ParamSpec(key="optim.lr", type="float", low=0.0, high=2.0),
             ParamSpec(key="model.dropout", type="float", low=0.0, high=0.5)]
    got = [suggest_params(SuggestRequest(space, SamplerSpec(name="qmc", seed=7), "maximize", [], n)).params
           for n in (3, 0, 2, 1)]
    expected = qmc.Sobol(2, scramble=True, seed=7).random(4)
    for params, n in zip(got, (3, 0, 2, 1), strict=False):
        assert params["optim.lr"] == pytest.approx(2.0 * expected[n][0])
        assert params["model.dropout"] == pytest.approx(0.5 * expected[n][1])


def test_grid_point_n_is_fixed_by_seed_and_number_and_cycles():
    space = [ParamSpec(key="optim.lr", type="categorical", choices=[1e-4, 3e-4, 1e-3]),
             ParamSpec(key="seed", type="int", low=0, high=1)]

    def point(seed: int, n: int) -> tuple:
        return tuple(sorted(suggest_params(SuggestRequest(space, SamplerSpec(name="grid", seed=seed), "maximize", [], n))
                            .params.items()))

    first = [point(0, n) for n in range(6)]
    assert len(set(first)) == 6 and [point(0, n) for n in (6, 7)] == first[:2]
    assert [point(1, n) for n in range(6)] != first


def test_each_proposal_says_whether_tpe_was_still_sampling_at_random():
    """TPE samples at random until n_startup_trials trials are complete or pruned; failed ones teach it
    nothing and do not count (Optuna's `TPESampler`). The report labels each proposal with this."""
    def reason(trials: list[FinishedTrial], sampler: str = "tpe") -> str:
        spec = SamplerSpec(name=sampler, n_startup_trials=2)
        return suggest_params(SuggestRequest(SPACE, spec, "maximize", trials, len(trials))).reason

    done = [FinishedTrial(0, {"optim.lr": 1e-3, "trainer.batch_size": 16, "model.dropout": 0.1}, "complete", -0.1)]
    failed = [FinishedTrial(1, {"optim.lr": 1e-2, "trainer.batch_size": 32, "model.dropout": 0.2}, "failed")]
    pruned = [FinishedTrial(1, {"optim.lr": 1e-2, "trainer.batch_size": 32, "model.dropout": 0.2}, "pruned", -2.0, 5)]
    assert reason([]) == "startup_random" and reason(done + failed) == "startup_random"
    assert reason(done + pruned) == "tpe"
    assert [reason(done + pruned, s) for s in ("random", "qmc")] == ["random", "qmc"]
    grid = SuggestRequest(SPACE[1:], SamplerSpec(name="grid"), "maximize", [], 0)
    assert suggest_params(grid).reason == "grid"
