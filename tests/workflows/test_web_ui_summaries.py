"""What Temporal's Web UI shows of a run: each activity's summary names its trial and rung (or job), and a
run the runner starts carries a static summary of itself (`summary=` / `static_summary=`, in the events'
and the execution's user metadata).

The sweep trains with the analytic stand-in of `tests.support.standin_training` (only the names are under
test); its snapshot and suggestions are the real activities."""

from __future__ import annotations

import asyncio
import re

from temporalio.api.enums.v1 import EventType

from runner.coordinate import start_coordinator
from runner.resolve import resolve_run
from runner.submit import start_run
from tests.conftest import SMALL_RUN, compose_config
from tests.support.standin_training import AnalyticTraining, no_op, space, sweep_environment
from workflows.ladder_sweep import LadderSweepWorkflow
from workflows.payloads.runs import CoordinatorJob
from workflows.payloads.specs import SamplerSpec
from workflows.payloads.sweep import LadderSweepInput, LadderSweepResult


async def activity_summaries(client, workflow_id: str) -> list[tuple[str, str]]:
    """(activity type, summary) of each activity the workflow scheduled, in order."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    found = []
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            summary = event.user_metadata.summary
            text = client.data_converter.payload_converter.from_payload(summary, str) if summary.data else ""
            found.append((event.activity_task_scheduled_event_attributes.activity_type.name, text))
    return found


async def test_sweep_activities_name_their_trial_and_rung(tmp_path):
    async with sweep_environment(tmp_path, AnalyticTraining(no_op, 1), parallelism=2, max_steps=3) as env:
        sweep = LadderSweepInput(
            name="named", base=env.base, space=space(1), n_trials=2, rungs=[1, 3], eta=2, kind="sha",
            sampler=SamplerSpec(name="random", seed=3), parallelism=2, keep_checkpoints=-1)
        workflow_id = f"named-{env.base.queues.training}"
        await asyncio.wait_for(env.client.execute_workflow(
            LadderSweepWorkflow.run, sweep, id=workflow_id, task_queue=env.base.queues.orchestration,
            result_type=LadderSweepResult), timeout=300)
        summaries = await activity_summaries(env.client, workflow_id)
    trains = sorted(text for name, text in summaries if name == "train")
    assert trains[:2] == ["trial 0: rung 0 (to step 1) of bracket 0", "trial 1: rung 0 (to step 1) of bracket 0"]
    assert len(trains) == 3 and re.fullmatch(r"trial [01]: rung 1 \(to step 3\) of bracket 0", trains[2]), summaries
    assert sorted(text for name, text in summaries if name == "suggest") == [
        "trial 0: suggest parameters", "trial 1: suggest parameters"], summaries
    assert all(text for _, text in summaries), summaries  # every activity says what it does


async def test_runs_the_runner_starts_carry_a_static_summary(temporal_env, run_root, queues):
    client = temporal_env.client
    run, plain = resolve_run(compose_config(*SMALL_RUN, f"run_root={run_root}", f"experiment_name=ui-{queues.training}"))
    run.queues = queues
    single = await start_run(client, run, plain)  # nothing serves its queue: it only has to exist
    multi = await start_coordinator(client, "ui-multi", [CoordinatorJob(index=0, overrides=["optim.lr=0.001"], run=run)],
                                    parallelism=1, queues=queues, output_dir=str(run_root / "out"))
    try:
        described = await single.describe()
        assert await described.static_summary() == (
            f"ui-{queues.training}: bert_tiny on bbc_news, 30 steps (config {run.config_hash[:10]})")
        described = await multi.describe()
        assert await described.static_summary() == "multirun ui-multi: 1 job, 1 at once"
        assert await described.static_details() == "- job 0: optim.lr=0.001"
    finally:
        await single.terminate()
        await multi.terminate()
