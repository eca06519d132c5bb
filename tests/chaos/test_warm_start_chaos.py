"""A warm-started sweep under chaos: a worker SIGKILLed inside the copy of a reused checkpoint, the next one
inside a checkpoint write of the one trial that trains. Replacements take over each time, and the sweep ends
with the calm warm-started run's proposals, reuses, metrics and promotions; the history replays."""

from __future__ import annotations

import asyncio
import dataclasses

from temporalio.worker import Replayer

from runner.resolve import resolve_run
from runner.warm_start import earlier_trials
from runner.worker import running_workers
from tests.chaos.test_aimed_kills import KILLED, run_through, start_faulty_worker
from tests.conftest import SMALL_RUN, compose_config
from workflows.coordinator import CoordinatorWorkflow
from workflows.ladder_sweep import LadderSweepWorkflow
from workflows.payloads.specs import ParamSpec, SamplerSpec
from workflows.payloads.sweep import LadderSweepInput, LadderSweepResult
from workflows.payloads.warm_start import WarmStart
from workflows.train_eval import TrainEvalWorkflow


def outcome(result: LadderSweepResult):
    trials = [(t.number, t.params, t.proposed_by, t.state, t.metrics, t.rung_steps, t.steps_trained, t.reused)
              for t in result.trials]
    decisions = sorted((d.kind, d.trial, d.rung, d.detail.split(" (resumed from")[0]) for d in result.decisions
                       if d.kind in ("warm_start", "propose", "reuse", "reuse_skip", "promote", "rung_result"))
    return trials, decisions, result.total_steps


async def test_kills_inside_a_reuse_copy_and_a_training_lose_nothing(temporal_env, run_root, queues, tmp_path):
    base, _ = resolve_run(compose_config(*SMALL_RUN, f"run_root={run_root}", "trainer.max_steps=20",
                                         "trainer.heartbeat_timeout_s=3"))
    base.queues = queues
    space = [ParamSpec(key="optim.lr", type="float", low=1e-4, high=3e-3, log=True)]
    first = LadderSweepInput(name="earlier", base=base, space=space, sampler=SamplerSpec(name="tpe", seed=5), n_trials=3,
                             rungs=[10, 20], eta=3, parallelism=2, keep_checkpoints=-1, enqueue=[{"optim.lr": 1e-3}])
    client = temporal_env.client
    async with running_workers(client, queues, max_concurrent_training=1):  # one training per process: bit-exact
        handle = await client.start_workflow(LadderSweepWorkflow.run, first, id=f"earlier-{queues.training}",
                                             task_queue=queues.orchestration)
        done: LadderSweepResult = await handle.result()
        warm = WarmStart(sweeps=[handle.id])
        warm.trials, warm.skipped, warm.notes = earlier_trials(handle.id, first, done, first, reuse=True)
        second = dataclasses.replace(first, name="warm", n_trials=4, warm_start=warm)
        calm = await (await client.start_workflow(LadderSweepWorkflow.run, second, id=f"warm-calm-{queues.training}",
                                                  task_queue=queues.orchestration)).result()
    assert [d.kind for d in calm.decisions].count("reuse") >= 3 and calm.total_steps <= 20

    address = client.service_client.config.target_host
    log = tmp_path / "workers.log"
    handle = await client.start_workflow(LadderSweepWorkflow.run, second, id=f"warm-chaos-{queues.training}",
                                         task_queue=queues.orchestration)
    result_future = asyncio.ensure_future(handle.result())
    died = await run_through(["copy_checkpoint:2", "checkpoint_write:1", "none"], result_future,
                             lambda fault: start_faulty_worker(fault, address, queues, run_root, log))
    result: LadderSweepResult = result_future.result()
    text = log.read_text()
    kills = KILLED.findall(text)

    assert died == [-9, -9] and [k.split()[:3] for k in kills] == [["inside", "the", "copy"], ["inside", "the", "write"]], \
        text[-3000:]
    assert outcome(result) == outcome(calm)  # the killed copy was retried, not skipped; nothing trained twice
    history = await handle.fetch_history()
    replayed = await Replayer(workflows=[LadderSweepWorkflow, TrainEvalWorkflow, CoordinatorWorkflow]).replay_workflow(
        history)
    assert replayed.replay_failure is None
