"""Proposals asked ahead of their trials (`workflows.proposals.Prefetch`): a seeded sweep asks a new trial's
`suggest` while every slot still trains, so a slot that frees starts training without that round trip; in
arrival-order mode with a learning sampler it asks nothing ahead (the proposal would see fewer results).
That prefetching changes no decision is `test_deterministic_sweep`'s (parallelism 1, 2 and 4 decide alike)."""

from __future__ import annotations

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.worker import Replayer

from tests.support.standin_training import augmented_hartmann, space, sweep_environment
from tests.workflows.test_deterministic_sweep import Jittered
from workflows.ladder_sweep import LadderSweepWorkflow
from workflows.payloads import activity_names
from workflows.payloads.specs import SamplerSpec
from workflows.payloads.sweep import LadderSweepInput, LadderSweepResult

DONE = (EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED, EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED,
        EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT, EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED)


def trainings_in_flight_at_each_suggest(history) -> list[int]:
    """For each `suggest` scheduled, in order: how many `train` activities were scheduled and not yet done."""
    kinds, in_flight, seen = {}, set(), []
    for e in history.events:
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            name = e.activity_task_scheduled_event_attributes.activity_type.name
            kinds[e.event_id] = name
            if name == activity_names.SUGGEST:
                seen.append(len(in_flight))
            elif name == activity_names.TRAIN:
                in_flight.add(e.event_id)
        elif e.event_type in DONE:
            attributes = {EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED: "activity_task_completed_event_attributes",
                          EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED: "activity_task_failed_event_attributes",
                          EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT: "activity_task_timed_out_event_attributes",
                          EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED: "activity_task_canceled_event_attributes"}
            in_flight.discard(getattr(e, attributes[e.event_type]).scheduled_event_id)
    return seen


@pytest.mark.parametrize("sampler, deterministic, ahead", [("random", True, True), ("tpe", True, True),
                                                             ("random", False, True), ("tpe", False, False)])
async def test_a_new_trials_proposal_is_asked_while_every_slot_trains(tmp_path, sampler, deterministic, ahead):
    training = Jittered(augmented_hartmann(3), 3, seed=3)
    async with sweep_environment(tmp_path, training, parallelism=4, max_steps=9) as env:
        sweep = LadderSweepInput(
            name="prefetch", base=env.base, space=space(3), n_trials=16, rungs=[1, 3, 9], eta=3, kind="asha",
            sampler=SamplerSpec(name=sampler, seed=5, n_startup_trials=3, deterministic=deterministic, lag=4),
            parallelism=4, keep_checkpoints=-1)
        workflow_id = f"prefetch-{sampler}-{deterministic}-{env.base.queues.training}"
        result = await env.client.execute_workflow(LadderSweepWorkflow.run, sweep, id=workflow_id,
                                                   task_queue=env.base.queues.orchestration,
                                                   result_type=LadderSweepResult)
        history = await env.client.get_workflow_handle(workflow_id).fetch_history()
        await Replayer(workflows=[LadderSweepWorkflow]).replay_workflow(history, raise_on_replay_failure=True)
    assert len(result.trials) == 16 and result.best_trial >= 0
    in_flight = trainings_in_flight_at_each_suggest(history)
    assert len(in_flight) == 16  # one proposal a trial: none asked twice, none asked for a trial that never ran
    # without asking ahead, a new trial's slot holds no training while it proposes: at most 3 of 4 in flight
    assert (max(in_flight) == 4) is ahead, in_flight
    proposals = [d for d in result.decisions if d.kind == "propose"]
    assert sorted(d.trial for d in proposals) == list(range(16))
