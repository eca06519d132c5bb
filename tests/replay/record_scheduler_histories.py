"""Record sweep histories for the scheduler paths `record_histories` leaves out, for the replay tests.

    python -m tests.replay.record_scheduler_histories [--only NAME]

Training is the analytic stand-in of `benchmarks.harness` (only the workflow's decisions matter here), so
these are cheap. Each sweep asserts the `workflow.patched` markers its history must hold:

- `ladder_sweep_ordered`: ordered asha (`ordered-decisions`, `ordered-promotion-order`) archiving in small
  batches, paused, extended by a rung, a waiting or parked trial and a training one stopped by `stop_trial`
  (`honest-accounting`), resumed.
- `ladder_sweep_prune_batches`: sha whose first rung's close dooms more than PRUNE_BATCH checkpoint folders
  at once (`prune-in-batches`), archiving as it goes.
- `ladder_sweep_hyperband`: hyperband brackets, archiving and parking.
- `ladder_sweep_prefetch`: ordered asha at parallelism 4 asking proposals ahead (`prefetch-proposals`),
  continuing as new with proposals asked for trials not yet started, then stopped by the `stop` signal.
- `ladder_sweep_probe`: ordered asha with a rung probe (`rung-probe`) whose first rung ranks in reverse of
  the top: six probe trials to the top, the ladder from the second rung, archiving and continuing as new.

Never re-record an existing history: add a new one (see README, "Changing workflow code").
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from pathlib import Path

from temporalio.api.enums.v1 import EventType

from tests.replay.record_histories import HISTORIES, INDEX
from tests.support.standin_training import AnalyticTraining, augmented_hartmann, space, sweep_environment
from workflows.ladder_sweep import LadderSweepWorkflow
from workflows.payloads.specs import SamplerSpec
from workflows.payloads.sweep import PRUNE_BATCH, ExtendRequest, LadderSweepInput, LadderSweepResult


def markers(history) -> set[str]:
    """The patch ids recorded in a history."""
    found = set()
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
            for payload in event.marker_recorded_event_attributes.details["patch-data"].payloads:
                found.add(json.loads(payload.data)["id"])
    return found


async def save_runs(client, workflow_id: str, name: str) -> set[str]:
    """Save every run of the workflow (`name`, or `name_run<i>` after continue-as-new); their markers."""
    first = (await client.get_workflow_handle(workflow_id).fetch_history()).events[0]
    run_id = first.workflow_execution_started_event_attributes.first_execution_run_id
    histories = []
    while run_id:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        histories.append(history)
        run_id = ""
        for event in history.events:
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
                run_id = event.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
    index = json.loads(INDEX.read_text())
    found: set[str] = set()
    for i, history in enumerate(histories, start=1):
        stem = name if len(histories) == 1 else f"{name}_run{i}"
        assert stem not in index, f"{stem} is recorded already: never re-record a history"
        (HISTORIES / f"{stem}.json").write_text(history.to_json())
        index[stem] = workflow_id
        found |= markers(history)
        print(f"recorded {stem} ({len(history.events)} events)")
    INDEX.write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
    return found


async def wait_for(handle, ready, timeout: float = 120.0):
    """Poll the trial table until `ready(trials)` returns something truthy; return it."""
    for _ in range(int(timeout / 0.05)):
        found = ready(await handle.query(LadderSweepWorkflow.trials))
        if found:
            return found
        await asyncio.sleep(0.05)
    raise TimeoutError("the sweep never reached the awaited state")


async def record_ordered(run_root: Path) -> None:
    training = AnalyticTraining(augmented_hartmann(3), 3, seconds_per_step=0.1)
    async with sweep_environment(run_root, training, parallelism=2, max_steps=9) as env:
        sweep = LadderSweepInput(
            name="replay-ordered", base=env.base, space=space(3), n_trials=12, rungs=[1, 3, 9], eta=3, kind="asha",
            sampler=SamplerSpec(name="tpe", seed=7, n_startup_trials=3, max_history=12, deterministic=True, lag=2),
            parallelism=2, keep_checkpoints=1, archive_batch=2)
        handle = await env.client.start_workflow(LadderSweepWorkflow.run, sweep, id="replay-ordered",
                                                 task_queue=env.base.queues.orchestration, result_type=LadderSweepResult)
        await wait_for(handle, lambda trials: sum(t.state == "waiting" for t in trials) >= 3)
        await handle.signal(LadderSweepWorkflow.pause)
        await wait_for(handle, lambda trials: not any(t.state == "running" for t in trials))
        await handle.execute_update(LadderSweepWorkflow.extend, ExtendRequest(rungs=[27]))
        parked = await handle.query(LadderSweepWorkflow.parked)
        waiting = [t.number for t in await handle.query(LadderSweepWorkflow.trials) if t.state == "waiting"]
        for number in [*parked[:1], *waiting[:1]]:
            await handle.signal(LadderSweepWorkflow.stop_trial, number)
        await handle.signal(LadderSweepWorkflow.resume)
        running = await wait_for(handle, lambda trials: [t.number for t in trials
                                                         if t.state == "running" and t.target >= 1])
        await handle.signal(LadderSweepWorkflow.stop_trial, running[0])
        result = await handle.result()
        assert result.archive.parts >= 1 and result.stopped_by_user, result
        found = await save_runs(env.client, handle.id, "ladder_sweep_ordered")
    assert {"ordered-decisions", "ordered-promotion-order", "honest-accounting"} <= found, found


async def record_prune_batches(run_root: Path) -> None:
    training = AnalyticTraining(augmented_hartmann(3), 3)
    trials = 3 * PRUNE_BATCH // 2 + 12  # sha with eta 3 stops 2/3 of them at rung 0's close
    async with sweep_environment(run_root, training, parallelism=8, max_steps=3) as env:
        sweep = LadderSweepInput(
            name="replay-prune", base=env.base, space=space(3), n_trials=trials, rungs=[1, 3], eta=3, kind="sha",
            sampler=SamplerSpec(name="random", seed=2), parallelism=8, keep_checkpoints=1, archive_batch=100,
            max_history_events=100_000)
        handle = await env.client.start_workflow(LadderSweepWorkflow.run, sweep, id="replay-prune",
                                                 task_queue=env.base.queues.orchestration, result_type=LadderSweepResult)
        await handle.result()
        found = await save_runs(env.client, handle.id, "ladder_sweep_prune_batches")
    assert "prune-in-batches" in found, found


async def record_hyperband(run_root: Path) -> None:
    training = AnalyticTraining(augmented_hartmann(3), 3)
    async with sweep_environment(run_root, training, parallelism=2, max_steps=9) as env:
        sweep = LadderSweepInput(
            name="replay-hyperband", base=env.base, space=space(3), n_trials=20, rungs=[1, 9], eta=3,
            kind="hyperband", sampler=SamplerSpec(name="tpe", seed=4, n_startup_trials=3, max_history=12),
            parallelism=2, keep_checkpoints=1, archive_batch=3)
        handle = await env.client.start_workflow(LadderSweepWorkflow.run, sweep, id="replay-hyperband",
                                                 task_queue=env.base.queues.orchestration, result_type=LadderSweepResult)
        result = await handle.result()
        assert len({t.bracket for t in result.trials}) > 1 or result.archive.parts, result
        await save_runs(env.client, handle.id, "ladder_sweep_hyperband")


async def record_prefetch(run_root: Path) -> None:
    training = AnalyticTraining(augmented_hartmann(3), 3, seconds_per_step=0.05)
    async with sweep_environment(run_root, training, parallelism=4, max_steps=9) as env:
        sweep = LadderSweepInput(
            name="replay-prefetch", base=env.base, space=space(3), n_trials=40, rungs=[1, 3, 9], eta=3, kind="asha",
            sampler=SamplerSpec(name="tpe", seed=3, n_startup_trials=3, max_history=12, deterministic=True, lag=4),
            parallelism=4, keep_checkpoints=1, archive_batch=4, max_history_events=300)
        handle = await env.client.start_workflow(LadderSweepWorkflow.run, sweep, id="replay-prefetch",
                                                 task_queue=env.base.queues.orchestration, result_type=LadderSweepResult)
        await wait_for(handle, lambda trials: max((t.number for t in trials), default=0) >= 24)
        await handle.signal(LadderSweepWorkflow.stop)
        result = await handle.result()
        assert result.runs >= 2 and result.stopped, result
        found = await save_runs(env.client, handle.id, "ladder_sweep_prefetch")
    assert {"ordered-decisions", "prefetch-proposals"} <= found, found


async def record_probe(run_root: Path) -> None:
    hartmann = augmented_hartmann(3)
    training = AnalyticTraining(lambda x, f: -f * hartmann(x, 1.0) if f < 3 / 9 else hartmann(x, f), 3,
                                seconds_per_step=0.02)
    async with sweep_environment(run_root, training, parallelism=3, max_steps=9) as env:
        sweep = LadderSweepInput(
            name="replay-probe", base=env.base, space=space(3), n_trials=24, rungs=[1, 3, 9], eta=3, kind="asha",
            sampler=SamplerSpec(name="tpe", seed=5, n_startup_trials=3, max_history=12, deterministic=True),
            parallelism=3, keep_checkpoints=1, archive_batch=4, max_history_events=300, probe_trials=6)
        handle = await env.client.start_workflow(LadderSweepWorkflow.run, sweep, id="replay-probe",
                                                 task_queue=env.base.queues.orchestration, result_type=LadderSweepResult)
        result = await handle.result()
        assert result.runs >= 2 and [d.rung for d in result.decisions if d.kind == "probe"] in ([1], []), result
        found = await save_runs(env.client, handle.id, "ladder_sweep_probe")
    assert {"ordered-decisions", "rung-probe"} <= found, found


RECORDERS = {"ordered": record_ordered, "prune_batches": record_prune_batches, "hyperband": record_hyperband,
             "prefetch": record_prefetch, "probe": record_probe}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", choices=sorted(RECORDERS))
    args = parser.parse_args()
    for name, recorder in RECORDERS.items():
        if args.only in (None, name):
            with tempfile.TemporaryDirectory() as root:
                asyncio.run(recorder(Path(root)))


if __name__ == "__main__":
    main()
