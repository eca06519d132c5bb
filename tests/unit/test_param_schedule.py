"""A single run's `schedule:`: resolved into typed entries, refused at resolve time with one line naming the
entry, key and value and what is valid (as the bad-input matrix), turned into training segments, part of
the run's identity only when set, and carried by the run's input so `rerun` replays it."""

from __future__ import annotations

import dataclasses

import pytest
from temporalio.converter import DataConverter

from runner.resolve import config_hash, resolve_run, to_plain
from runner.schedule_config import refuse_in_sweep
from runner.sweep_config import is_sweep, resolve_sweep
from tests.conftest import SMALL_RUN, compose_config
from workflows.param_schedule import Segment, segments
from workflows.payloads.runs import ScheduledParams, TrainEvalInput

CHANGE_AT_20 = "schedule=[{step: 20, params: {optim.lr: 1e-4}}]"


def test_a_schedule_resolves_to_typed_entries_and_its_segments():
    run, plain = resolve_run(compose_config(
        *SMALL_RUN, "schedule=[{step: 0, params: {optim.lr: 2e-3}}, {step: 10, params: {optim.weight_decay: 0, "
                    "optim.scheduler: cosine}}, {step: 20, params: {optim.lr: 1e-4}}]"))
    assert run.schedule == [ScheduledParams(0, {"optim.lr": 0.002}),
                            ScheduledParams(10, {"optim.weight_decay": 0.0, "optim.scheduler": "cosine"}),
                            ScheduledParams(20, {"optim.lr": 0.0001})]
    assert isinstance(run.schedule[1].params["optim.weight_decay"], float)  # as its schema holds it
    # one segment per entry; each keeps the earlier entries' values it does not change
    assert segments(run.schedule, run.trainer.max_steps) == [
        Segment(0, 10, {"optim.lr": 0.002}),
        Segment(10, 20, {"optim.lr": 0.002, "optim.weight_decay": 0.0, "optim.scheduler": "cosine"}),
        Segment(20, 30, {"optim.lr": 0.0001, "optim.weight_decay": 0.0, "optim.scheduler": "cosine"}),
    ]


def test_segments_before_the_first_entry_use_the_configs_values():
    assert segments([ScheduledParams(20, {"optim.lr": 1e-4})], 40) == [Segment(0, 20, {}),
                                                                       Segment(20, 40, {"optim.lr": 1e-4})]
    assert segments([], 40) == [Segment(0, 40, {})]


CASES = [
    ("not increasing", "schedule=[{step: 20, params: {optim.lr: 1e-4}}, {step: 20, params: {optim.lr: 1e-5}}]",
     ["schedule[1].step is 20", "increase strictly", "schedule[0].step is 20"]),
    ("negative step", "schedule=[{step: -5, params: {optim.lr: 1e-4}}]", ["schedule[0].step is -5", ">= 0"]),
    ("step at max_steps", "schedule=[{step: 30, params: {optim.lr: 1e-4}}]",
     ["schedule[0].step is 30", "below trainer.max_steps (30)"]),
    ("no params", "schedule=[{step: 10, params: {}}]", ["schedule[0].params is empty", "optim.lr"]),
    ("misspelt key", "schedule=[{step: 10, params: {optim.lrr: 1e-4}}]",
     ["schedule[0].params has 'optim.lrr'", "did you mean optim.lr?", "model, optim, trainer"]),
    ("key outside the searchable sections", "schedule=[{step: 10, params: {dataset.max_length: 32}}]",
     ["schedule[0].params has 'dataset.max_length'", "model, optim, trainer"]),
    ("max_steps changed", "schedule=[{step: 10, params: {trainer.max_steps: 60}}]",
     ["schedule[0].params has 'trainer.max_steps'", "cannot change it", "span it"]),
    ("value of the wrong type", "schedule=[{step: 10, params: {optim.lr: fast}}]",
     ["schedule[0].params: optim.lr is 'fast'", "schema refuses it"]),
    ("enum value the schema lacks", "schedule=[{step: 10, params: {optim.scheduler: warm}}]",
     ["optim.scheduler is 'warm'", "linear, cosine, constant"]),
    ("value a single run refuses", "schedule=[{step: 10, params: {optim.lr: 1e-3}}, {step: 20, params: {optim.lr: -1}}]",
     ["schedule[1] (step 20): optim.lr is -1.0", "> 0"]),
    ("nan", "schedule=[{step: 10, params: {optim.lr: nan}}]", ["schedule[0].params.optim.lr is nan", "finite"]),
    ("unknown entry key", "schedule=[{stepp: 10, params: {optim.lr: 1e-4}}]", ["stepp", "ScheduleEntryConfig"]),
    ("step not a number", "schedule=[{step: soon, params: {optim.lr: 1e-4}}]", ["soon", "Integer"]),
]


@pytest.mark.parametrize("case, override, expected", CASES, ids=[c[0] for c in CASES])
def test_a_bad_schedule_fails_at_resolve_time_naming_entry_key_and_value(case, override, expected):
    with pytest.raises(Exception) as info:  # Hydra's own errors (a typo in an entry) or ours
        resolve_run(compose_config(*SMALL_RUN, override))
    text = f"{info.value} {info.value.__cause__ or ''}"
    for fragment in expected:
        assert fragment in text, (case, text)


def test_a_sweep_refuses_a_schedule():
    run, plain = resolve_run(compose_config("experiment=bert_sweep", "schedule=[{step: 10, params: {optim.lr: 1e-4}}]"))
    assert is_sweep(plain)
    resolve_sweep(run, plain)
    with pytest.raises(Exception, match=r"schedule has 1 entries, but a sweep .* trains each trial's own parameters"):
        refuse_in_sweep(run)
    refuse_in_sweep(resolve_run(compose_config("experiment=bert_sweep"))[0])  # none: nothing to refuse


def test_a_schedule_is_part_of_the_runs_identity_only_when_set():
    plain = to_plain(compose_config(*SMALL_RUN))
    assert config_hash(plain) == config_hash({k: v for k, v in plain.items() if k != "schedule"})
    scheduled, _ = resolve_run(compose_config(*SMALL_RUN, CHANGE_AT_20))
    assert scheduled.config_hash != resolve_run(compose_config(*SMALL_RUN))[0].config_hash


async def test_the_runs_input_carries_its_schedule_and_old_inputs_decode_without_one():
    """`rerun` starts the run's recorded input again (`first_input` decodes it): the schedule travels with it."""
    run, _ = resolve_run(compose_config(*SMALL_RUN, CHANGE_AT_20))
    converter = DataConverter.default
    (decoded,) = await converter.decode(await converter.encode([run]), [TrainEvalInput])
    assert decoded.schedule == [ScheduledParams(20, {"optim.lr": 0.0001})]
    old = dataclasses.asdict(run)
    del old["schedule"]  # an input recorded before schedules existed
    (decoded,) = await converter.decode(await converter.encode([old]), [TrainEvalInput])
    assert decoded.schedule == []
