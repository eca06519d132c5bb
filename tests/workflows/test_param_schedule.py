"""A run with a `schedule:` trains one segment per entry on a real local server with the real activities: the
second segment resumes from the first's checkpoint with the entry's parameters, the run ends at
trainer.max_steps and is evaluated as any run, and its recorded input (what `rerun` starts) carries the
schedule."""

from __future__ import annotations

import json
import math
from pathlib import Path

from temporalio.api.enums.v1 import EventType
from temporalio.worker import Replayer

from runner.resolve import resolve_run
from runner.run_kinds import first_input
from runner.submit import start_run
from runner.worker import running_workers
from tests.conftest import SMALL_RUN, compose_config
from workflows.payloads.messages import TrainRequest
from workflows.payloads.runs import ScheduledParams, TrainEvalInput, TrainEvalResult
from workflows.train_eval import PARAM_SCHEDULE, TrainEvalWorkflow


async def train_requests(client, workflow_id: str) -> list[TrainRequest]:
    """The input of each `train` activity the run scheduled, in order."""
    requests = []
    for event in (await client.get_workflow_handle(workflow_id).fetch_history()).events:
        attributes = event.activity_task_scheduled_event_attributes
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED and attributes.activity_type.name == "train":
            (request,) = await client.data_converter.decode(attributes.input.payloads, [TrainRequest])
            requests.append(request)
    return requests


async def test_a_scheduled_run_trains_a_segment_per_change_and_completes(temporal_env, run_root, queues):
    run, plain = resolve_run(compose_config(
        *SMALL_RUN, f"run_root={run_root}", "dataset.max_samples=200", "trainer.max_steps=40",
        "trainer.val_every_n_steps=20", "trainer.checkpoint_every_n_steps=20", "optim.lr=1e-3",
        "schedule=[{step: 20, params: {optim.lr: 1e-4}}]",
    ))
    run.queues = queues
    client = temporal_env.client
    async with running_workers(client, queues):
        handle = await start_run(client, run, plain)
        result: TrainEvalResult = await handle.result()
        final = await handle.query(TrainEvalWorkflow.status)  # queries need a worker polling

    requests = await train_requests(client, handle.id)
    assert [(r.stop_at_step, r.optim.lr) for r in requests] == [(20, 1e-3), (40, 1e-4)]
    assert requests[0].checkpoint_dir == requests[1].checkpoint_dir  # the run's own folder
    assert result.train.resumed_from_step == 20 and result.train.global_step == 40
    assert result.train.steps_this_attempt == 20 and result.train.attempt == 1
    assert Path(result.train.last_checkpoint).name == "step00000040.ckpt"
    assert (Path(requests[0].checkpoint_dir) / "step00000020.ckpt").is_file()
    assert Path(result.best_checkpoint).is_file()
    assert set(result.metrics) == {"accuracy", "macro_f1", "loss"}
    assert 0.0 <= result.metrics["accuracy"] <= 1.0 and math.isfinite(result.metrics["loss"])
    assert final.stage == "done" and final.progress.step == 40 and final.progress.max_steps == 40

    # the segments are behind their patch, and the history replays against this code
    history = await handle.fetch_history()
    patches = [json.loads(e.marker_recorded_event_attributes.details["patch-data"].payloads[0].data)["id"]
               for e in history.events if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED]
    assert PARAM_SCHEDULE in patches, patches
    replayed = await Replayer(workflows=[TrainEvalWorkflow]).replay_workflow(history, raise_on_replay_failure=False)
    assert replayed.replay_failure is None, replayed.replay_failure
    # `rerun` starts the recorded input again: the schedule is in it
    recorded = await first_input(client, handle.id, TrainEvalInput)
    assert recorded.schedule == [ScheduledParams(20, {"optim.lr": 0.0001})]
