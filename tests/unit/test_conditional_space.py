"""Conditional search spaces: `when` validated in one line at resolve time, define-by-run proposals that hold
only active parameters within their own ranges, unconditional spaces proposing exactly what they did before
`when` existed, and a searched `model` resolved per choice, applied per trial and written to best_config."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from activities.suggest import key_distributions, suggest_params, validate_space
from runner.best_config import best_config
from runner.check_values import check_sampler
from runner.model_choices import resolve_model_choices
from runner.resolve import resolve_run
from runner.sweep_config import resolve_sweep
from tests.conftest import SMALL_RUN, compose_config
from workflows.conditional_space import ordered, param_name
from workflows.payloads.errors import ConfigError
from workflows.payloads.messages import FinishedTrial, SuggestRequest
from workflows.payloads.records import TrialState
from workflows.payloads.specs import ModelSpec, ParamSpec, SamplerSpec
from workflows.payloads.sweep import LadderSweepInput, SweepState
from workflows.search_params import apply_params
from workflows.tokenizer_snapshots import snapshot_for, tokenizers

TINY, MINI = {"model": "bert_tiny"}, {"model": "minilm_l6"}
SPACE = [
    ParamSpec(key="optim.lr", low=1e-4, high=3e-3, log=True, when=TINY),
    ParamSpec(key="optim.lr", low=1e-5, high=1e-4, log=True, when=MINI),
    ParamSpec(key="optim.warmup_ratio", type="categorical", choices=[0.0, 0.1], when=MINI),
    ParamSpec(key="model", type="categorical", choices=["bert_tiny", "minilm_l6"]),
]
MODEL_LR = ["search_space=model_lr", "ladder=sha", "ladder.rungs=[10,30]", "n_trials=4"]


def propose(sampler: str, n: int, space=SPACE) -> list[dict]:
    trials: list[FinishedTrial] = []
    for number in range(n):
        params = suggest_params(SuggestRequest(space, SamplerSpec(name=sampler, seed=2, n_startup_trials=4), "minimize",
                                               list(trials), number)).params
        loss = abs(math.log10(params["optim.lr"]) + 4.5) + (params["model"] == "bert_tiny")
        trials.append(FinishedTrial(number, params, "pruned" if number % 4 == 3 else "complete", loss, step=10))
    return [t.params for t in trials]


@pytest.mark.parametrize(("space", "message"), [
    ([ParamSpec(key="optim.lr", low=1e-4, high=1e-3, when={"modle": "bert_tiny"}), SPACE[3]],
     "search_space.params.optim.lr.when names 'modle', but must name another searched parameter: model"),
    ([ParamSpec(key="optim.lr", low=1e-4, high=1e-3, when={"model": "bert_base"}), SPACE[3]],
     "search_space.params.optim.lr.when.model is 'bert_base', but must be one of the choices of 'model': "
     "'bert_tiny', 'minilm_l6'"),
    ([ParamSpec(key="optim.lr", low=1e-4, high=1e-3, when=TINY), ParamSpec(key="optim.lr", low=1e-5, high=1e-4),
      SPACE[3]], "search_space.params.optim.lr appears twice with when={'model': 'bert_tiny'} and when={}, which can both"),
    ([ParamSpec(key="optim.lr", low=1e-4, high=1e-3), ParamSpec(key="optim.lr", low=1e-5, high=1e-4)],
     "search_space.params.optim.lr appears twice; each config key may be searched once"),
    ([ParamSpec(key="optim.scheduler", type="categorical", choices=["linear", "cosine"], when={"optim.fused": True}),
      ParamSpec(key="optim.fused", type="categorical", choices=[True, False], when={"optim.scheduler": "cosine"})],
     "search_space.params has a `when` cycle (optim.scheduler -> optim.fused -> optim.scheduler)"),
    ([ParamSpec(key="optim.lr", low=1e-4, high=1e-3, when={"trainer.max_steps": 10}),
      ParamSpec(key="trainer.max_steps", type="int", low=10, high=20)],
     "search_space.params.optim.lr.when.trainer.max_steps is 10, but 'trainer.max_steps' is a int parameter"),
    ([ParamSpec(key="model", low=0, high=1)], "search_space.params.model is type float with choices [], but searching"),
    ([ParamSpec(key="model", type="categorical", choices=["bert_tiny"], when={"optim.fused": True}),
      ParamSpec(key="optim.fused", type="categorical", choices=[True])],
     "search_space.params.model has when={'optim.fused': True}, but the model is chosen in every trial"),
])
def test_bad_conditions_are_one_line(space, message):
    with pytest.raises(ConfigError) as error:
        validate_space(space)
    assert str(error.value).startswith(message) and "\n" not in str(error.value)


@pytest.mark.parametrize("sampler", ["grid", "qmc"])
def test_grid_and_qmc_refuse_a_conditional_space(sampler):
    with pytest.raises(ConfigError, match=f"sampler.name is '{sampler}', but search_space.params has `when`"):
        check_sampler({"name": sampler, "seed": 0}, SPACE)
    with pytest.raises(ConfigError, match="needs sampler tpe, random or nsga2"):
        suggest_params(SuggestRequest(SPACE, SamplerSpec(name=sampler), "minimize", [], 0))


def test_parameters_are_chosen_after_what_their_when_names():
    assert [p.key for p in ordered(SPACE)] == ["model", "optim.lr", "optim.lr", "optim.warmup_ratio"]
    assert [param_name(p) for p in SPACE] == ["optim.lr|model=bert_tiny", "optim.lr|model=minilm_l6",
                                              "optim.warmup_ratio|model=minilm_l6", "model"]


@pytest.mark.parametrize("sampler", ["tpe", "random"])
def test_proposals_hold_only_active_params_in_their_models_range(sampler):
    proposals = propose(sampler, 24)
    assert proposals == propose(sampler, 24)  # a pure function of its inputs
    assert {p["model"] for p in proposals} == {"bert_tiny", "minilm_l6"}
    for params in proposals:
        if params["model"] == "bert_tiny":
            assert set(params) == {"model", "optim.lr"} and 1e-4 <= params["optim.lr"] <= 3e-3
        else:
            assert set(params) == {"model", "optim.lr", "optim.warmup_ratio"} and 1e-5 <= params["optim.lr"] <= 1e-4
    if sampler == "tpe":  # TPE learns that minilm_l6 near lr 10^-4.5 is best
        assert sum(p["model"] == "minilm_l6" for p in proposals[-10:]) >= 7


def test_unconditional_spaces_propose_what_they_did_before_when():
    space = [ParamSpec(key="optim.lr", type="float", low=1e-5, high=1e-1, log=True),
             ParamSpec(key="trainer.batch_size", type="categorical", choices=[16, 32, 64]),
             ParamSpec(key="model.dropout", type="float", low=0.0, high=0.5, step=0.1),
             ParamSpec(key="trainer.max_steps", type="int", low=10, high=90, step=10)]
    before = json.loads((Path(__file__).parent / "suggest_before_when.json").read_text())  # main's, recorded
    for sampler, expected in before.items():
        grid = [ParamSpec(key="optim.lr", type="categorical", choices=[1e-4, 3e-4]), space[3]]
        trials: list[FinishedTrial] = []
        for n in range(8):
            params = suggest_params(SuggestRequest(grid if sampler == "grid" else space, SamplerSpec(
                name=sampler, seed=3, n_startup_trials=3), "maximize", list(trials), n)).params
            value = -((math.log10(params["optim.lr"]) + 3) ** 2) - (params["model.dropout"] - 0.1) ** 2 \
                if "model.dropout" in params else 0.0
            trials.append(FinishedTrial(n, params, "pruned" if n % 3 == 2 else "complete", value, step=10))
        assert [t.params for t in trials] == expected, sampler


def test_an_export_gives_each_param_its_active_range():
    dists = key_distributions(SPACE, {"model": "minilm_l6", "optim.lr": 3e-5, "optim.warmup_ratio": 0.1})
    assert dists["optim.lr"].low == 1e-5 and dists["optim.warmup_ratio"].choices == (0.0, 0.1)
    assert set(key_distributions(SPACE, {"model": "bert_tiny", "optim.lr": 1e-3})) == {"model", "optim.lr"}


def test_a_searched_model_resolves_per_choice_and_is_applied_per_trial(tmp_path):
    args = (*SMALL_RUN, *MODEL_LR, f"run_root={tmp_path}")
    base, plain = resolve_run(compose_config(*args))
    models = resolve_model_choices(plain, lambda extra: compose_config(*args, *extra))
    assert {m.init for m in models.values()} == {"config", "pretrained"} and models["minilm_l6"].tokenizer
    assert plain["search_space"]["models"]["minilm_l6"]["name"] == "minilm_l6"
    sweep = resolve_sweep(base, plain, models)
    assert sweep.models == models
    run = apply_params(sweep.base, {"model": "minilm_l6", "optim.lr": 2e-5}, sweep.models)
    assert run.model.name == "minilm_l6" and run.optim.lr == 2e-5 and sweep.base.model.name == "bert_tiny"
    assert run.optim.warmup_ratio == sweep.base.optim.warmup_ratio  # inactive: the config's value

    best = TrialState(number=3, params={"model": "minilm_l6", "optim.lr": 2e-5}, metrics=[0.5], rung_steps=[10],
                      schedule_steps=[30])
    config, _ = best_config("sweep-1", plain, best)
    assert config["model"] == plain["search_space"]["models"]["minilm_l6"] and config["optim"]["lr"] == 2e-5
    assert config["search_space"] == {"params": []}
    _, single = resolve_run(compose_config(*SMALL_RUN, "model=minilm_l6", f"run_root={tmp_path}"))
    assert config["model"] == single["model"]  # the single run trains the trial's model


def test_model_choices_are_checked_like_single_runs(tmp_path):
    args = (*SMALL_RUN, *MODEL_LR, f"run_root={tmp_path}", "search_space.params.0.choices=[bert_tiny,bert_huge]")
    _, plain = resolve_run(compose_config(*args))
    with pytest.raises(ConfigError) as error:
        resolve_model_choices(plain, lambda extra: compose_config(*args, *extra))
    assert str(error.value) == ("search_space.params.model choices[1]='bert_huge', but Could not find "
                                "'model/bert_huge'; valid: bert_base, bert_tiny, minilm_l6")
    args = (*SMALL_RUN, *MODEL_LR, f"run_root={tmp_path}", "search_space.params.2.low=-1", "search_space.params.2.log=false")
    base, plain = resolve_run(compose_config(*args))
    models = resolve_model_choices(plain, lambda extra: compose_config(*args, *extra))
    with pytest.raises(ConfigError, match=r"^search_space.params.optim.lr \(when \{'model': 'minilm_l6'\}\) low=-1.0: "
                                          r"optim.lr is -1.0, but must be > 0$"):
        resolve_sweep(base, plain, models)
    with pytest.raises(ConfigError, match="search_space.params.model has choice 'bert_tiny', which was not resolved"):
        resolve_sweep(base, plain)


def test_pbt_refuses_a_conditional_space(tmp_path):
    base, plain = resolve_run(compose_config(*SMALL_RUN, *MODEL_LR, "ladder=pbt", f"run_root={tmp_path}"))
    models = {name: base.model for name in ("bert_tiny", "minilm_l6")}
    with pytest.raises(ConfigError, match="^search_space.params.model searches the model, but ladder=pbt copies"):
        resolve_sweep(base, plain, models)
    plain["search_space"]["params"] = [{"key": "optim.scheduler", "type": "categorical", "choices": ["linear", "cosine"]},
                                       {"key": "optim.lr", "low": 1e-4, "high": 1e-3, "when": {"optim.scheduler": "cosine"}}]
    with pytest.raises(ConfigError, match=r"^search_space.params.optim.lr has when=\{'optim.scheduler': 'cosine'\}, but "
                                          r"ladder=pbt"):
        resolve_sweep(base, plain, models)


def test_each_tokenizer_gets_a_snapshot_and_each_trial_its_own(tmp_path):
    base, _ = resolve_run(compose_config(*SMALL_RUN, f"run_root={tmp_path}"))
    cased = ModelSpec(name="cased", init="pretrained", name_or_path="/x/cased", tokenizer="/x/cased")
    sweep = LadderSweepInput(name="s", base=base, space=SPACE, sampler=SamplerSpec(), n_trials=2, rungs=[10],
                             models={"bert_tiny": base.model, "cased": cased, "again": base.model})
    assert tokenizers(sweep) == [base.model.tokenizer, "/x/cased"]
    assert tokenizers(LadderSweepInput(name="s", base=base, space=SPACE, sampler=SamplerSpec(), n_trials=2,
                                       rungs=[10])) == [base.model.tokenizer]
    first, second = object(), object()
    state = SweepState(snapshot=first, snapshots={"/x/cased": second})  # type: ignore[arg-type]
    assert snapshot_for(state, cased) is second and snapshot_for(state, base.model) is first
