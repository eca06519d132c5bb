"""Record histories of representative finished workflows for the replay tests.

    python -m tests.replay.record_histories [--only-archive | --only-best-test]

Runs, on a throwaway local server with real (small) training: a single TrainEvalWorkflow with
predictions, a CoordinatorWorkflow with three jobs where one is cancelled while running and one fails
with a config error, a 4-trial successive-halving LadderSweepWorkflow (started paused, extended,
resumed), a 6-trial asha sweep that continues as new (one history per run) and a 12-trial sha sweep that
archives and parks its trials (`--only-archive` records just that one, leaving the others as they are), and a
4-trial sha sweep that tests its best trial (`--only-best-test`: just that one). Writes each workflow's
history (coordinator children included) as JSON under tests/replay/histories/. Refresh them only for an
intentional, incompatible workflow change, and protect running workflows with `workflow.patched()`
(see README, "Changing workflow code").
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import shutil
import tempfile
import uuid
from pathlib import Path

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from runner.config_schema import register_configs
from runner.coordinate import start_coordinator
from runner.embedded_server import temporal_binary
from runner.resolve import resolve_run
from runner.submit import start_run
from runner.worker import running_workers
from tests.conftest import SMALL_RUN, compose_config, free_port
from workflows.coordinator import CoordinatorWorkflow
from workflows.ladder_sweep import LadderSweepWorkflow
from workflows.payloads.runs import CoordinatorJob
from workflows.payloads.specs import ParamSpec, SamplerSpec, TaskQueues
from workflows.payloads.sweep import ExtendRequest, LadderSweepInput

HISTORIES = Path(__file__).parent / "histories"


INDEX = HISTORIES / "index.json"
"""name -> workflow id: replay must run under the original id (children's ids derive from it)."""


async def save(client: Client, workflow_id: str, name: str, run_id: str | None = None) -> None:
    history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
    (HISTORIES / f"{name}.json").write_text(history.to_json())
    index = json.loads(INDEX.read_text()) if INDEX.exists() else {}
    index[name] = workflow_id
    INDEX.write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
    print(f"recorded {name} ({len(history.events)} events)")


async def record_archiving_sweep(client: Client, queues: TaskQueues, run_root: Path) -> None:
    """A 12-trial sha sweep archiving in batches of 2: archive parts, parked trials loaded back when
    promoted, parked trials stopped and pruned."""
    base, _ = resolve_run(compose_config(
        *SMALL_RUN, f"run_root={run_root}", "trainer.checkpoint_every_n_steps=10",
        "trainer.val_every_n_steps=10", "trainer.max_steps=20",
    ))
    base.queues = queues
    sweep = LadderSweepInput(
        name="replay-archive", base=base, sampler=SamplerSpec(name="tpe", seed=5), n_trials=12, rungs=[10, 20],
        eta=2, space=[ParamSpec(key="optim.lr", type="float", low=1e-4, high=3e-3, log=True)], keep_checkpoints=1,
        archive_batch=2,
    )
    handle = await client.start_workflow(LadderSweepWorkflow.run, sweep, id="replay-archive",
                                         task_queue=queues.orchestration)
    result = await handle.result()
    assert result.archive.parts >= 2, result.archive
    await save(client, handle.id, "ladder_sweep_archive")


async def record_best_test_sweep(client: Client, queues: TaskQueues, run_root: Path) -> None:
    """A 4-trial sha sweep that ends by scoring its best trial on the test split (`workflows.sweep_metrics`,
    behind its patch marker), its rung results carrying every validation metric."""
    base, _ = resolve_run(compose_config(
        *SMALL_RUN, f"run_root={run_root}", "trainer.checkpoint_every_n_steps=10",
        "trainer.val_every_n_steps=10", "trainer.max_steps=20",
    ))
    base.queues = queues
    sweep = LadderSweepInput(
        name="replay-best-test", base=base, sampler=SamplerSpec(name="random", seed=4), n_trials=4, rungs=[10, 20],
        eta=2, space=[ParamSpec(key="optim.lr", type="float", low=1e-4, high=3e-3, log=True)],
    )
    handle = await client.start_workflow(LadderSweepWorkflow.run, sweep, id="replay-best-test",
                                         task_queue=queues.orchestration)
    result = await handle.result()
    assert result.best_test is not None and all(t.rung_metrics for t in result.trials), result.best_test_note
    await save(client, handle.id, "ladder_sweep_best_test")


async def record(run_root: Path, only_archive: bool = False, only_best_test: bool = False) -> None:
    queues = TaskQueues(training=f"tq-train-{uuid.uuid4().hex[:6]}", orchestration=f"tq-orch-{uuid.uuid4().hex[:6]}")
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_binary(), ip="127.0.0.1", port=free_port(), ui=False,
    )
    try:
        client = env.client
        async with running_workers(client, queues, max_concurrent_training=2):
            await record_best_test_sweep(client, queues, run_root)
            if only_best_test:
                return
            await record_archiving_sweep(client, queues, run_root)
            if only_archive:
                return
            run, plain = resolve_run(compose_config(
                *SMALL_RUN, f"run_root={run_root}", "trainer.progress_interval_s=0.2",
                "predict_texts=['Markets rallied after the rate cut.']",
            ))
            run.queues = queues
            single = await start_run(client, run, plain, workflow_id="replay-single")
            await single.result()
            await save(client, single.id, "train_eval_single")

            per_job = [("trainer.max_steps=40",), ("trainer.max_steps=3000",),
                       ("model.architecture.hidden_size=65", "model.architecture.num_attention_heads=2")]
            jobs = []
            for index, overrides in enumerate(per_job):
                job_run, _ = resolve_run(compose_config(
                    *SMALL_RUN, f"run_root={run_root}", "trainer.checkpoint_every_n_steps=10",
                    "trainer.progress_interval_s=0.2", *overrides,
                ))
                job_run.queues = queues
                jobs.append(CoordinatorJob(index=index, overrides=list(overrides), run=job_run))
            coordinator = await start_coordinator(client, "replay", jobs, 3, queues, "")
            for _ in range(1200):
                status = await coordinator.query(CoordinatorWorkflow.status)
                if status.jobs[1].step >= 15:
                    break
                await asyncio.sleep(0.1)
            await coordinator.signal(CoordinatorWorkflow.cancel_job, 1)
            result = await coordinator.result()
            assert [j.state for j in result.jobs] == ["completed", "cancelled", "failed"], result.jobs
            await save(client, coordinator.id, "coordinator_cancel_and_failure")
            for job in result.jobs:
                await save(client, job.workflow_id, f"coordinator_child_{job.state}")

            base, _ = resolve_run(compose_config(
                *SMALL_RUN, f"run_root={run_root}", "trainer.checkpoint_every_n_steps=10",
                "trainer.val_every_n_steps=10", "trainer.max_steps=20",
            ))
            base.queues = queues
            sweep = LadderSweepInput(
                name="replay", base=base, sampler=SamplerSpec(name="tpe", seed=3), n_trials=4, rungs=[10, 20], eta=2,
                space=[ParamSpec(key="optim.lr", type="float", low=1e-4, high=3e-3, log=True)],
            )
            # signals and the extend update: started paused, extended by 2 trials, resumed
            handle = await client.start_workflow(LadderSweepWorkflow.run, sweep, id="replay-sweep",
                                                 task_queue=queues.orchestration, start_signal="pause")
            for _ in range(600):
                if await handle.query(LadderSweepWorkflow.rung_table):
                    break
                await asyncio.sleep(0.1)
            await handle.execute_update(LadderSweepWorkflow.extend, ExtendRequest(trials=2))
            await handle.signal(LadderSweepWorkflow.resume)
            await handle.result()
            await save(client, handle.id, "ladder_sweep_sha")

            # asha, continuing as new every few trials: each run's history is saved
            asha = dataclasses.replace(sweep, kind="asha", n_trials=6, max_history_events=40)
            handle = await client.start_workflow(LadderSweepWorkflow.run, asha, id="replay-asha",
                                                 task_queue=queues.orchestration)
            result = await handle.result()
            runs = [e async for e in client.list_workflows("WorkflowId = 'replay-asha'")]
            assert len(runs) == result.runs >= 2, (len(runs), result.runs)
            for number, execution in enumerate(sorted(runs, key=lambda e: e.start_time), 1):
                await save(client, handle.id, f"ladder_sweep_asha_run{number}", run_id=execution.run_id)
    finally:
        await env.shutdown()


def main() -> None:
    import sys

    register_configs()
    HISTORIES.mkdir(parents=True, exist_ok=True)
    run_root = Path(tempfile.mkdtemp(prefix="tt-replay-"))
    try:
        asyncio.run(record(run_root, only_archive="--only-archive" in sys.argv,
                           only_best_test="--only-best-test" in sys.argv))
    finally:
        shutil.rmtree(run_root, ignore_errors=True)


if __name__ == "__main__":
    main()
