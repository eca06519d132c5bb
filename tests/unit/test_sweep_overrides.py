"""Hydra's sweep grammar as a search space (`hydra_plugins/train_tune_sweeper/_search_space.py`): which
overrides search, the ParamSpec each becomes, hydra.sweeper.params under the command line, the one-line
refusals, and the `search_space.params` override that carries the space into the job's config."""

from __future__ import annotations

from typing import Any

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

from hydra_plugins.train_tune_sweeper._search_space import (
    is_search,
    last_overrides,
    merged_params,
    plan,
    searches,
    space_override,
    sweeper_lines,
)
from runner.resolve import resolve_run
from runner.sweep_config import resolve_sweep
from tests.conftest import compose_config
from workflows.payloads.errors import ConfigError
from workflows.payloads.specs import ParamSpec

GROUPS = {"model", "dataset", "trainer", "optim", "ladder", "sampler", "search_space", "experiment"}
VALUES: dict[str, Any] = {"optim.lr": 3e-4, "optim.warmup_ratio": 0.06, "trainer.batch_size": 16,
                          "model.name": "bert_tiny", "optim.scheduler": "linear", "trainer.deterministic": False}


def plan_of(*arguments: str, params: dict[str, str] | None = None):
    return plan(last_overrides(sweeper_lines(params, arguments)), GROUPS.__contains__, VALUES.get)


def only(*arguments: str) -> ParamSpec:
    (param,) = plan_of(*arguments).params
    return param


@pytest.mark.parametrize("line, searches", [
    ("optim.lr=1e-3", False),
    ("optim.lr=1e-4,1e-3", False),            # Hydra's fan-out
    ("optim.lr=choice(1e-4,1e-3)", True),
    ("optim.lr=interval(1e-4,1e-3)", True),
    ("optim.lr=tag(log,interval(1e-4,1e-3))", True),
    ("trainer.batch_size=range(8,33,8)", True),
    ("trainer.batch_size=shuffle(8,16)", True),
])
def test_what_is_a_search_override(line, searches):
    (override,) = OverridesParser.create().parse_overrides([line])
    assert is_search(override) is searches


@pytest.mark.parametrize("line, expected", [
    ("optim.lr=interval(1e-4, 1e-3)", ParamSpec("optim.lr", "float", 1e-4, 1e-3)),
    ("optim.lr=tag(log, interval(1e-5, 1e-3))", ParamSpec("optim.lr", "float", 1e-5, 1e-3, log=True)),
    ("optim.warmup_ratio=interval(0, 0.2)", ParamSpec("optim.warmup_ratio", "float", 0.0, 0.2)),
    ("trainer.batch_size=tag(int, interval(8, 32))", ParamSpec("trainer.batch_size", "int", 8, 32)),
    ("trainer.batch_size=int(interval(8, 32))", ParamSpec("trainer.batch_size", "int", 8, 32)),
    ("trainer.batch_size=tag(int, log, interval(8, 64))", ParamSpec("trainer.batch_size", "int", 8, 64, log=True)),
    # Python's range: the stop is excluded, so the last value is the high bound
    ("trainer.batch_size=range(8, 33, 8)", ParamSpec("trainer.batch_size", "int", 8, 32, step=8)),
    ("trainer.batch_size=range(8, 12)", ParamSpec("trainer.batch_size", "int", 8, 11)),
    ("trainer.batch_size=range(32, 7, -8)", ParamSpec("trainer.batch_size", "int", 8, 32, step=8)),
    ("optim.warmup_ratio=range(0, 0.3, 0.1)", ParamSpec("optim.warmup_ratio", "float", 0.0, 0.2, step=0.1)),
    ("optim.scheduler=choice(linear, cosine)", ParamSpec("optim.scheduler", "categorical", choices=["linear", "cosine"])),
    ("trainer.batch_size=shuffle(range(8, 25, 8))", ParamSpec("trainer.batch_size", "categorical", choices=[8, 16, 24])),
    ("model.name=choice('1.5', bert_tiny)", ParamSpec("model.name", "categorical", choices=["1.5", "bert_tiny"])),
])
def test_each_sweep_becomes_the_param_optunas_sweeper_would_search(line, expected):
    got = only(line)
    assert got.low == pytest.approx(expected.low) and got.high == pytest.approx(expected.high)
    assert (got.key, got.type, got.log, got.step, got.choices) == (
        expected.key, expected.type, expected.log, expected.step, expected.choices)
    assert type(got.choices[0]) is type(expected.choices[0]) if expected.choices else True


def test_comma_lists_join_the_search_as_categoricals_and_the_rest_stays_fixed():
    got = plan_of("model=bert_tiny", "optim.lr=tag(log, interval(1e-4, 3e-3))", "trainer.batch_size=16,32",
                  "n_trials=3")
    assert [p.key for p in got.params] == ["optim.lr", "trainer.batch_size"]
    assert got.params[1] == ParamSpec("trainer.batch_size", "categorical", choices=[16, 32])
    assert got.fixed == ["model=bert_tiny", "n_trials=3"]


def test_sweeper_params_come_first_and_the_command_line_wins_per_key():
    params = {"optim.lr": "interval(1e-4, 1e-3)", "optim.warmup_ratio": "interval(0, 0.2)", "trainer.batch_size": "8,16"}
    got = plan_of("optim.lr=tag(log, interval(1e-5, 1e-3))", "optim.warmup_ratio=0.1", params=params)
    assert [p.key for p in got.params] == ["trainer.batch_size", "optim.lr"]
    assert got.params[1].log and got.params[1].low == 1e-5
    assert got.fixed == ["optim.warmup_ratio=0.1"]  # a fixed value on the command line ends the file's search
    assert not any(is_search(o) for o in last_overrides(sweeper_lines({"optim.lr": "1e-4,1e-3"}, ["seed=0,1"])))


@pytest.mark.parametrize("params, arguments, search", [
    ({}, ["seed=range(0,3)"], False),                          # a fan-out over seeds, as before the sweeper
    ({}, ["optim.lr=choice(1e-4,1e-3)", "seed=0,1"], False),   # choice alone on the command line fans out too
    ({}, ["optim.lr=interval(1e-4,1e-3)"], True),
    ({}, ["trainer.batch_size=tag(int, interval(8, 32))"], True),
    ({}, ["optim.lr=interval(1e-4,1e-3)", "trainer.batch_size=range(8,33,8)"], True),  # then range is a parameter
    ({"optim.lr": "choice(1e-4, 1e-3)"}, [], True),             # hydra.sweeper.params: Optuna's sweeper grammar
    ({"optim.lr": "1e-4,1e-3"}, ["seed=0,1"], False),
])
def test_what_starts_a_search_and_what_fans_out(params, arguments, search):
    assert searches(params, arguments) is search


@pytest.mark.parametrize("line, expected", [
    ("optim.lr=interval(1e-3, 1e-4)", "optim.lr=interval(1e-3, 1e-4): low is 0.001 and high is 0.0001, but a search needs low < "
                                     "high"),
    ("optim.lr=tag(log, interval(0, 1e-3))", "tag log needs low > 0, but low is 0"),
    ("model.name=interval(0, 1)", "model.name=interval(0, 1): model.name is 'bert_tiny', but interval(...) and range(...) "
                                   "search numbers"),
    ("optim.scheduler=range(1, 3)", "optim.scheduler is 'linear'"),
    ("trainer.deterministic=interval(0, 1)", "trainer.deterministic is False"),
    ("trainer.batch_size=interval(8, 32)", "trainer.batch_size is an int (16), but this samples floats; "
                                            "write tag(int, interval(8, 32))"),
    ("trainer.batch_size=tag(int, interval(8.5, 32))", "tag int needs whole bounds"),
    ("model=bert_tiny,minilm_l6", "'model' is a config group"),
    ("seed=range(0, 3)", "seed=range(0, 3): a search sets model.*, optim.*, trainer.* keys, but 'seed' is none"),
    ("optim.lr=tag(lgo, interval(1e-4, 1e-3))", "tag lgo is not one a search reads; use log or int"),
    ("trainer.batch_size=tag(log, range(8, 64))", "tag log applies to interval(...), not to range(...)"),
    ("optim.scheduler=tag(log, choice(linear, cosine))", "not to a list of choices"),
    ("trainer.batch_size=range(8, 9)", "a searched range needs two values or more"),
    ("+optim.momentum=interval(0, 1)", "a searched key is set as `key=...`"),
    ("model.name=choice([1], [2])", "choice [1] is a list, but a searched choice must be a number, string, bool or null"),
])
def test_bad_sweep_overrides_fail_in_one_line_naming_the_override(line, expected):
    with pytest.raises(ConfigError) as error:
        plan_of(line, "optim.lr=interval(1e-4, 1e-3)" if "optim.lr" not in line else "n_trials=2")
    assert expected in str(error.value) and "\n" not in str(error.value)


def test_a_sweeper_param_hydra_cannot_parse_names_its_line():
    with pytest.raises(ConfigError, match=r"'optim.lr=interval\(1e-4' is not a valid override"):
        last_overrides(sweeper_lines({"optim.lr": "interval(1e-4"}, []))


def test_the_yaml_space_keeps_its_order_and_the_searched_keys_replace_their_entries():
    yaml = [{"key": "optim.lr", "type": "float", "low": 1e-4, "high": 3e-3, "log": True},
            {"key": "optim.warmup_ratio", "type": "categorical", "choices": [0.0, 0.1]}]
    merged = merged_params(yaml, [ParamSpec("trainer.batch_size", "categorical", choices=[8, 16]),
                                  ParamSpec("optim.lr", "float", 1e-5, 1e-3)])
    assert [p["key"] for p in merged] == ["optim.lr", "optim.warmup_ratio", "trainer.batch_size"]
    assert merged[0]["low"] == 1e-5 and merged[0]["log"] is False


def test_the_space_override_composes_into_the_same_params_and_resolves_as_a_sweep():
    space = [ParamSpec("optim.lr", "float", 1e-5, 3e-3, log=True), ParamSpec("optim.warmup_ratio", "float", 0.0, 0.2),
             ParamSpec("trainer.batch_size", "int", 8, 32, step=8),
             ParamSpec("optim.scheduler", "categorical", choices=["linear", "cosine"]),
             ParamSpec("model.name", "categorical", choices=["bert_tiny", "1.5", "it's"])]
    override = space_override(merged_params([], space))
    assert "step:null" not in override and "choices:[]" not in override  # defaults left out: readable overrides.yaml
    cfg = compose_config(override, "model=bert_tiny")
    assert [ParamSpec(**p) for p in OmegaConf.to_container(cfg.search_space.params)] == space
    run, plain = resolve_run(compose_config(space_override(merged_params([], space[:4])), "model=bert_tiny"))
    sweep = resolve_sweep(run, plain)  # ladder none with a search space: a sweep, every trial to max_steps
    assert sweep.kind == "none" and [p.key for p in sweep.space] == [p.key for p in space[:4]]


def test_train_tune_is_the_default_sweeper():
    from hydra import compose, initialize_config_module

    import hydra_plugins.train_tune_sweeper.train_tune_sweeper  # noqa: F401  (Hydra's plugin scan imports it)

    with initialize_config_module(config_module="conf", version_base="1.3"):
        cfg = compose(config_name="config", return_hydra_config=True)
    assert cfg.hydra.sweeper._target_ == "hydra_plugins.train_tune_sweeper.train_tune_sweeper.TrainTuneSweeper"
    assert cfg.hydra.launcher._target_.endswith("TemporalLauncher")
