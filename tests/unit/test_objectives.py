"""A sweep's objectives and constraints: the vector and violation maths (workflows/objectives.py), their
resolution (runner/objectives_config.py) and what they change of a sweep's identity."""

from __future__ import annotations

import math

import pytest

from runner.objectives_config import refuse_outside_sweep
from runner.resolve import resolve_run
from runner.sweep_config import resolve_sweep
from runner.sweep_session import sweep_id, sweep_identity
from tests.conftest import compose_config
from workflows.objectives import feasible, is_multi, vector, violation
from workflows.payloads.errors import ConfigError
from workflows.payloads.specs import ConstraintSpec, ObjectiveSpec

ACC_LATENCY = "objectives=[{metric: val_accuracy, direction: maximize}, {metric: latency_ms, direction: minimize}]"


def test_vector_follows_the_objectives_and_marks_a_missing_metric_nan():
    objectives = [ObjectiveSpec("val_accuracy", "maximize"), ObjectiveSpec("latency_ms")]
    assert vector(objectives, {"latency_ms": 3.0, "val_accuracy": 0.8}) == [0.8, 3.0]
    assert math.isnan(vector(objectives, {"val_accuracy": 0.8})[1])
    assert is_multi(objectives) and not is_multi(objectives[:1])


def test_violation_adds_each_bound_excess_relative_to_the_bound():
    constraints = [ConstraintSpec("latency_ms", max=5.0), ConstraintSpec("val_accuracy", min=0.5, max=1.0)]
    assert violation(constraints, {"latency_ms": 5.0, "val_accuracy": 0.5}) == 0.0
    assert violation(constraints, {"latency_ms": 7.5, "val_accuracy": 0.25}) == pytest.approx(0.5 + 0.5)
    assert violation(constraints, {"val_accuracy": 0.9}) == math.inf  # nothing shows latency holds
    assert not feasible(constraints, {"latency_ms": math.nan, "val_accuracy": 0.9})


def test_a_sweep_resolves_its_objectives_and_measures_their_cost_metrics(tmp_path):
    run, plain = resolve_run(compose_config("experiment=bert_sweep", f"run_root={tmp_path}", ACC_LATENCY,
                                            "constraints=[{metric: peak_memory_mb, max: 8000}]"))
    sweep = resolve_sweep(run, plain)
    assert [(o.metric, o.direction) for o in sweep.objectives] == [("val_accuracy", "maximize"),
                                                                   ("latency_ms", "minimize")]
    assert sweep.constraints == [ConstraintSpec("peak_memory_mb", max=8000.0)]
    assert sweep.base.trainer.measure == ["latency_ms", "peak_memory_mb"]


def test_objectives_are_part_of_a_sweeps_identity_only_when_set(tmp_path):
    def identity(*overrides: str) -> str:
        run, plain = resolve_run(compose_config("experiment=bert_sweep", f"run_root={tmp_path}", *overrides))
        sweep = resolve_sweep(run, plain)
        return sweep_id(sweep, sweep_identity(sweep, plain, ""))

    plain_id = identity()
    assert "objectives" not in sweep_identity(*_sweep(tmp_path), "")
    assert identity(ACC_LATENCY) != plain_id
    assert identity() == plain_id


def _sweep(tmp_path):
    run, plain = resolve_run(compose_config("experiment=bert_sweep", f"run_root={tmp_path}"))
    return resolve_sweep(run, plain), plain


def test_a_single_run_refuses_objectives(tmp_path):
    _, plain = resolve_run(compose_config("experiment=bert_single", f"run_root={tmp_path}", ACC_LATENCY))
    with pytest.raises(ConfigError, match="objectives is set, but this is a single run"):
        refuse_outside_sweep(plain)


def test_a_multi_objective_sweep_may_pick_nsga2_and_fits_its_records_in_its_state(tmp_path):
    run, plain = resolve_run(compose_config("experiment=bert_sweep", f"run_root={tmp_path}", ACC_LATENCY,
                                            "sampler=nsga2", "sampler.population_size=8"))
    sweep = resolve_sweep(run, plain)
    assert (sweep.sampler.name, sweep.sampler.population_size) == ("nsga2", 8)
    plain_sweep, _ = _sweep(tmp_path)
    assert 0 < sweep.max_trials < plain_sweep.max_trials  # every record stays: fewer trials fit
