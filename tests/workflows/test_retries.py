"""A training is retried for as long as its attempts make progress, and given up, with the reason, after
`trainer.max_attempts` attempts in a row that started from the same checkpoint. The count travels in the
heartbeat details Temporal hands to the next attempt; these tests give the real `train` activity those
details as Temporal would (ActivityEnvironment) and run it."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from datetime import timedelta

import pytest
from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment
from temporalio.worker import Worker

from activities.engine.checkpoint_files import resume_checkpoint
from activities.engine.fitting import fit
from activities.snapshot import build_snapshot
from activities.train import train
from activities.train_progress import attempts_without_progress
from runner.resolve import resolve_run
from tests.conftest import SMALL_RUN, compose_config
from workflows.payloads.messages import SnapshotRequest, TrainRequest


def test_the_count_restarts_when_an_attempt_starts_from_a_newer_checkpoint():
    assert attempts_without_progress([], 0) == 1  # first attempt
    assert attempts_without_progress([{"resumed_from_step": 0, "attempts_without_progress": 1}], 0) == 2
    assert attempts_without_progress([{"resumed_from_step": 10, "attempts_without_progress": 4}], 10) == 5
    assert attempts_without_progress([{"resumed_from_step": 10, "attempts_without_progress": 4}], 20) == 1
    assert attempts_without_progress([{"resumed_from_step": 10}], 10) == 2  # details from an older worker


def _request(run_root, folder, **trainer):
    run, _ = resolve_run(compose_config(*SMALL_RUN, f"run_root={run_root}", "trainer.max_steps=20",
                                        "trainer.checkpoint_every_n_steps=10", "trainer.max_attempts=2"))
    snapshot = build_snapshot(SnapshotRequest(run.dataset, run.model.tokenizer, run.run_root))
    return TrainRequest(model=run.model, optim=run.optim, trainer=dataclasses.replace(run.trainer, **trainer),
                        snapshot=snapshot, seed=run.seed, checkpoint_dir=str(folder), signal_progress=False)


def _attempt(previous: dict | None, attempt: int):
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, attempt=attempt, heartbeat_details=[previous] if previous else [])
    beats: list[dict] = []
    env.on_heartbeat = lambda *details: beats.extend(details)
    return env, beats


async def test_attempts_stuck_at_one_checkpoint_end_the_training_and_progress_restarts_the_count(run_root, tmp_path):
    folder = tmp_path / "trial"
    request = _request(run_root, folder)
    fit(dataclasses.replace(request, stop_at_step=10), None, lambda p: None, threading.Event(), 1)
    assert resume_checkpoint(folder)[0].name == "step00000010.ckpt"

    # two attempts already started from step 10 and were lost: the third gives up before training
    env, beats = _attempt({"resumed_from_step": 10, "attempts_without_progress": 2, "step": 14}, attempt=3)
    with pytest.raises(ApplicationError) as info:
        await env.run(train, request)
    assert info.value.non_retryable and info.value.type == "NoProgress"
    assert "no progress in 2 attempts in a row" in str(info.value) and "from step 10" in str(info.value)
    assert "trainer.max_attempts is 2" in str(info.value)
    assert not (folder / "logs" / "attempt3").exists(), "it gave up without training"

    # the same history, but the previous attempts started from step 0: this one starts from 10 and trains
    env, beats = _attempt({"resumed_from_step": 0, "attempts_without_progress": 2, "step": 14}, attempt=3)
    result = await env.run(train, request)
    assert result.resumed_from_step == 10 and result.global_step == 20
    assert beats[0]["resumed_from_step"] == 10 and beats[0]["attempts_without_progress"] == 1
    assert all(beat["attempts_without_progress"] == 1 for beat in beats), "every heartbeat carries the count"


async def test_an_error_that_repeats_from_the_same_step_ends_the_training_with_that_error(run_root, tmp_path):
    folder = tmp_path / "trial"
    request = _request(run_root, folder)
    # a worker that does not see the shared storage: the snapshot's folder is missing there
    request.snapshot = dataclasses.replace(request.snapshot, uri=str(tmp_path / "not_mounted" / "snapshot"))

    env, beats = _attempt(None, attempt=1)
    with pytest.raises(Exception) as first:
        await env.run(train, request)
    assert not isinstance(first.value, ApplicationError), "the first failure is retried (another worker may see it)"
    assert beats[0]["attempts_without_progress"] == 1

    env, _ = _attempt(beats[-1], attempt=2)
    with pytest.raises(ApplicationError) as second:
        await env.run(train, request)
    assert second.value.non_retryable and second.value.type == "NoProgress"
    assert "not_mounted" in str(second.value), "the real error is the reason"
    assert "attempt 2 in a row that started from step 0" in str(second.value)


@activity.defn(name="probe_heartbeat_details")
async def probe_heartbeat_details(how: str) -> list:
    """Attempt 1 heartbeats its details, then fails (`how`: "error", or "lost": stops heartbeating, as a
    dead worker does); attempt 2 returns the details it was handed."""
    info = activity.info()
    if info.attempt > 1:
        return list(info.heartbeat_details)
    activity.heartbeat({"resumed_from_step": 10, "attempts_without_progress": 1})
    await asyncio.sleep(0.5)  # let the heartbeat reach the server
    if how == "error":
        raise RuntimeError("attempt 1 fails")
    await asyncio.sleep(60)  # no more heartbeats: the 2 s heartbeat timeout fails the attempt
    return []


@workflow.defn(sandboxed=False)
class ProbeHeartbeatDetails:
    @workflow.run
    async def run(self, how: str) -> list:
        return await workflow.execute_activity(
            probe_heartbeat_details, how, start_to_close_timeout=timedelta(seconds=60),
            heartbeat_timeout=timedelta(seconds=2),
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=100), maximum_attempts=2))


@pytest.mark.parametrize("how", ["error", "lost"])
async def test_temporal_hands_the_last_heartbeat_details_to_the_next_attempt(temporal_env, queues, how):
    """What the count relies on, checked against the real server: after an error and after a lost worker
    (heartbeat timeout) alike, the next attempt gets the last heartbeat's details."""
    async with Worker(temporal_env.client, task_queue=queues.training, workflows=[ProbeHeartbeatDetails],
                      activities=[probe_heartbeat_details]):
        details = await temporal_env.client.execute_workflow(
            ProbeHeartbeatDetails.run, how, id=f"probe-{how}-{queues.training}", task_queue=queues.training)
    assert details == [{"resumed_from_step": 10, "attempts_without_progress": 1}]
