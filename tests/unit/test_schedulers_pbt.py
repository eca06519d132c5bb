"""Population-based training's decisions (`workflows.schedulers.pbt`), without a server: quantile sizes,
who exploits whom (never itself, never an unverified checkpoint), explore within the space, resampling
rates over fixed seeds, determinism, burn-in, direction and config validation."""

from __future__ import annotations

import math
import random

import pytest

from workflows.payloads.errors import ConfigError
from workflows.payloads.records import PbtMember
from workflows.payloads.specs import ParamSpec, PbtSpec
from workflows.schedulers.pbt import Pbt, explore, perturb, quantile_size, sample, validate

LR = ParamSpec(key="optim.lr", type="float", low=1e-5, high=1e-2, log=True)
WD = ParamSpec(key="optim.weight_decay", type="float", low=0.0, high=0.1)
BATCH = ParamSpec(key="trainer.batch_size", type="int", low=2, high=64, log=True)
WARM = ParamSpec(key="optim.warmup_ratio", type="float", low=0.0, high=0.2, step=0.05)
SCHED = ParamSpec(key="optim.scheduler", type="categorical", choices=["linear", "cosine", "constant"])
SPACE = [LR, WD, BATCH, WARM, SCHED]


def params(n: int) -> dict:
    return {"optim.lr": 1e-4 * (n + 1), "optim.weight_decay": 0.01, "trainer.batch_size": 8,
            "optim.warmup_ratio": 0.05, "optim.scheduler": "linear", "trainer.max_steps": 400}


def population(scores: list[float | None], step: int = 100, verified: bool = True) -> list[PbtMember]:
    return [PbtMember(number=n, step=step, checkpoint_step=step if verified else step - 50, score=s, params=params(n))
            for n, s in enumerate(scores)]


def decide(members: list[PbtMember], seed: int = 0, direction: str = "minimize", **spec) -> list:
    return Pbt(PbtSpec(**spec), SPACE, direction).decide(members, random.Random(seed))


@pytest.mark.parametrize("n, quantile, k", [
    (1, 0.25, 0), (2, 0.25, 1), (3, 0.25, 1), (4, 0.25, 1), (5, 0.25, 2), (8, 0.25, 2), (9, 0.25, 3),
    (16, 0.25, 4), (4, 0.5, 2), (5, 0.5, 2), (10, 0.3, 3), (10, 0.1, 1), (3, 0.5, 1)])
def test_quantile_size_is_ceil_of_the_fraction_capped_at_half(n, quantile, k):
    assert quantile_size(n, quantile) == k


@pytest.mark.parametrize("size", [2, 3, 4, 5, 8, 9])
def test_the_bottom_quantile_exploits_the_top_and_never_itself(size):
    members = population([float(n) for n in range(size)])  # minimize: member 0 best, the last worst
    k = quantile_size(size, 0.25)
    for seed in range(50):
        decisions = decide(members, seed)
        assert [d.target for d in decisions] == list(range(size - k, size))
        for d in decisions:
            assert d.kind == "exploit" and d.source in range(k) and d.source != d.target
            assert d.step == 100 and d.source_params == params(d.source) and d.old_params == params(d.target)


def test_an_unverified_checkpoint_is_never_exploited():
    members = population([0.1, 0.2, 0.5, 0.6, 0.7, 0.9, 1.0, 1.1])  # top 2: members 0 and 1
    members[0].checkpoint_step = 50  # its last verified checkpoint is behind its step
    for seed in range(50):
        assert {d.source for d in decide(members, seed)} == {1}
    members[1].checkpoint_step = -1
    decisions = decide(members, 0)
    assert [(d.kind, d.target, d.source) for d in decisions] == [("skip", 6, -1), ("skip", 7, -1)]
    assert all(d.new_params == d.old_params and "verified" in d.reason for d in decisions)


def test_a_diverged_member_is_never_a_source():
    members = population([math.nan, math.nan, math.nan, 0.5])  # the top 2: member 3, then NaN member 0
    for seed in range(20):
        assert [(d.target, d.source) for d in decide(members, seed, quantile=0.5)] == [(1, 3), (2, 3)]
    members[3].score = math.nan
    assert {d.kind for d in decide(members, quantile=0.5)} == {"skip"}


def test_explore_stays_within_the_space_with_log_int_and_step_handled():
    spec = PbtSpec(resample_probability=0.0, perturbation_factors=[0.5, 3.0])
    edge = {"optim.lr": 9e-3, "optim.weight_decay": 0.09, "trainer.batch_size": 3, "optim.warmup_ratio": 0.1,
            "optim.scheduler": "cosine"}
    for seed in range(200):
        new, how = explore(edge, SPACE, spec, random.Random(seed))
        assert 1e-5 <= new["optim.lr"] <= 1e-2 and 0.0 <= new["optim.weight_decay"] <= 0.1
        assert isinstance(new["trainer.batch_size"], int) and 2 <= new["trainer.batch_size"] <= 64
        assert round(new["optim.warmup_ratio"] / 0.05, 9) % 1 == 0 and 0 <= new["optim.warmup_ratio"] <= 0.2
        assert new["optim.scheduler"] == "cosine" and how["optim.scheduler"] == "keep"
        assert how["optim.lr"] in ("x0.5", "x3")
        assert new["optim.lr"] == (1e-2 if how["optim.lr"] == "x3" else pytest.approx(4.5e-3))  # clipped at high
    assert perturb(3, 1.2, BATCH) == 4  # 3.6 rounds to 4
    assert perturb(2, 1.2, BATCH) == 3  # 2.4 would round back to 2: one step up instead
    assert perturb(2, 0.8, BATCH) == 2  # already at low
    assert perturb(0.05, 1.2, WARM) == 0.1  # a stepped float moves at least one step
    assert perturb(0.0, 1.2, WD) == 0.0  # only resampling moves a float at 0


def test_resampling_draws_from_the_space_log_uniformly():
    rng = random.Random(7)
    lrs = [sample(LR, rng) for _ in range(4000)]
    assert all(1e-5 <= v <= 1e-2 for v in lrs)
    below = sum(v < 10 ** -3.5 for v in lrs) / len(lrs)  # log-uniform: half below the geometric middle
    assert 0.45 < below < 0.55
    batches = {sample(BATCH, rng) for _ in range(2000)}
    assert all(isinstance(b, int) for b in batches) and min(batches) == 2 and max(batches) == 64
    assert {sample(WARM, rng) for _ in range(500)} == {0.0, 0.05, 0.1, 0.15, 0.2}


@pytest.mark.parametrize("p", [0.0, 0.25, 0.6, 1.0])
def test_categorical_and_continuous_resampling_rate_matches_the_probability(p):
    spec = PbtSpec(resample_probability=p)
    draws = 4000  # binomial sd <= sqrt(0.25 / 4000) ~ 0.008; the bound is 5 sd (fixed seeds: no flakes)
    hows = [explore(params(0), SPACE, spec, random.Random(seed))[1] for seed in range(draws)]
    for key in ("optim.scheduler", "optim.lr", "trainer.batch_size"):
        rate = sum(h[key] == "resample" for h in hows) / draws
        assert abs(rate - p) <= 0.04, (key, rate)
    changed = sum(explore(params(0), SPACE, spec, random.Random(seed))[0]["optim.scheduler"] != "linear"
                  for seed in range(draws)) / draws
    assert abs(changed - p * 2 / 3) <= 0.04  # a resample draws one of 3 choices, 2 of them new


def test_a_value_outside_the_space_is_resampled():
    new, how = explore({**params(0), "optim.scheduler": "step", "optim.lr": math.nan},
                       SPACE, PbtSpec(resample_probability=0.0), random.Random(0))
    assert how["optim.scheduler"] == how["optim.lr"] == "resample"
    assert new["optim.scheduler"] in SCHED.choices and 1e-5 <= new["optim.lr"] <= 1e-2
    assert new["trainer.max_steps"] == 400  # not searched: copied


def test_same_seed_same_decisions_and_other_seeds_differ():
    members = population([0.9, 0.1, 0.5, 0.4, 0.8, 0.3, 0.7, 0.2])
    assert decide(members, 3) == decide(members, 3)
    assert len({repr(decide(members, seed)) for seed in range(10)}) > 1


def test_burn_in_and_missing_scores_leave_members_alone():
    members = population([0.1, 0.2, None, 0.9, 1.0])
    assert decide(members, burn_in=101) == []  # every member is below the burn-in
    ranked_four = decide(members, burn_in=100)
    assert [d.target for d in ranked_four] == [4]  # 4 ranked (member 2 has no score): k = 1
    members[4].step = members[4].checkpoint_step = 60  # member 4 is still in its burn-in
    assert [(d.target, d.source) for d in decide(members, burn_in=100)] == [(3, 0)]  # 0, 1, 3 ranked


def test_direction_decides_who_is_bottom_nan_ranks_last_and_ties_go_to_the_lower_number():
    members = population([0.1, 0.2, 0.3, 0.4])
    assert [(d.target, d.source) for d in decide(members, direction="minimize")] == [(3, 0)]
    assert [(d.target, d.source) for d in decide(members, direction="maximize")] == [(0, 3)]
    members[0].score = math.nan
    assert [(d.target, d.source) for d in decide(members, direction="maximize")] == [(0, 3)]
    assert [(d.target, d.source) for d in decide(members, direction="minimize")] == [(0, 1)]
    tied = population([0.5, 0.5, 0.5, 0.5])  # member 3 is bottom by number, but nobody is better: no copy
    assert [(d.kind, d.target, d.source) for d in decide(tied)] == [("skip", 3, -1)]
    assert "scores better than it" in decide(tied)[0].reason
    partly = population([0.4, 0.5, 0.5, 0.5])  # member 0 (better) is top; ties beyond do not matter
    assert [(d.kind, d.target, d.source) for d in decide(partly, direction="minimize")] == [("exploit", 3, 0)]
    with pytest.raises(ConfigError, match="direction is 'up', but must be 'maximize' or 'minimize'"):
        decide(tied, direction="up")


@pytest.mark.parametrize("change, message", [
    ({"population": 1}, "ladder.population is 1, but must be >= 2"),
    ({"perturbation_interval": 0}, "ladder.perturbation_interval is 0, but must be >= 1"),
    ({"quantile": 0.0}, r"ladder.quantile is 0.0, but must be in \(0, 0.5\]"),
    ({"quantile": 0.6}, r"ladder.quantile is 0.6, but must be in \(0, 0.5\]"),
    ({"resample_probability": 1.5}, r"ladder.resample_probability is 1.5, but must be in \[0, 1\]"),
    ({"perturbation_factors": []}, r"ladder.perturbation_factors is \[\], but must be one or more finite"),
    ({"perturbation_factors": [0.8, -1.0]}, r"ladder.perturbation_factors is \[0.8, -1.0\], but must be"),
    ({"burn_in": -5}, "ladder.burn_in is -5, but must be >= 0"),
])
def test_validation_names_the_key_the_value_and_what_is_valid(change, message):
    validate(PbtSpec(), SPACE)
    with pytest.raises(ConfigError, match=message) as error:
        validate(PbtSpec(**change), SPACE)
    assert "\n" not in str(error.value)


def test_validation_needs_a_parameter_to_explore():
    with pytest.raises(ConfigError, match=r"search_space.params is \[\], but ladder=pbt needs at least one"):
        validate(PbtSpec(), [])
