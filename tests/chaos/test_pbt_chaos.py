"""Population-based training under chaos: a worker SIGKILLed inside an exploit's checkpoint copy, the
next one inside a checkpoint write while training. Replacements take over each time, and the sweep ends
with the calm run's decisions, lineages and metrics: nothing lost, nothing trained twice."""

from __future__ import annotations

import asyncio

from runner.resolve import resolve_run
from runner.sweep_config import resolve_sweep
from runner.worker import running_workers
from tests.chaos.test_aimed_kills import KILLED, run_through, start_faulty_worker
from tests.conftest import SMALL_RUN, compose_config
from tests.workflows.test_pbt_sweep import PBT
from workflows.ladder_sweep import LadderSweepWorkflow
from workflows.payloads.sweep import LadderSweepResult


def pbt_sweep(run_root, queues):
    base, plain = resolve_run(compose_config(*SMALL_RUN, *PBT, f"run_root={run_root}", "trainer.heartbeat_timeout_s=3"))
    base.queues = queues
    return resolve_sweep(base, plain)


def outcome(result: LadderSweepResult):
    trials = [(t.number, t.params, t.state, t.metrics, t.rung_steps, t.steps_trained,
               [(s.step, s.source, s.params, s.how) for s in t.lineage]) for t in result.trials]
    # the same decisions, word for word; a rung result says where its segment's last attempt resumed,
    # which a kill moves
    decisions = sorted((d.kind, d.trial, d.rung, d.detail.split(" (resumed from")[0]) for d in result.decisions
                       if d.kind in ("exploit", "exploit_skip", "promote", "rung_result"))
    return trials, decisions


async def test_kills_inside_an_exploit_copy_and_a_training_lose_nothing(temporal_env, run_root, queues, tmp_path):
    client = temporal_env.client
    async with running_workers(client, queues, max_concurrent_training=1):  # one training per process: bit-exact
        handle = await client.start_workflow(LadderSweepWorkflow.run, pbt_sweep(run_root, queues),
                                             id=f"pbt-calm-{queues.training}", task_queue=queues.orchestration)
        calm: LadderSweepResult = await handle.result()
    assert [d.kind for d in calm.decisions].count("exploit") == 2

    address = client.service_client.config.target_host
    log = tmp_path / "workers.log"
    handle = await client.start_workflow(LadderSweepWorkflow.run, pbt_sweep(run_root, queues),
                                         id=f"pbt-chaos-{queues.training}", task_queue=queues.orchestration)
    result_future = asyncio.ensure_future(handle.result())
    died = await run_through(["copy_checkpoint:1", "checkpoint_write:4", "none"], result_future,
                             lambda fault: start_faulty_worker(fault, address, queues, run_root, log))
    result: LadderSweepResult = result_future.result()
    text = log.read_text()
    kills = KILLED.findall(text)

    assert died == [-9, -9] and [k.split()[:3] for k in kills] == [["inside", "the", "copy"], ["inside", "the", "write"]], \
        text[-3000:]
    assert outcome(result) == outcome(calm)
    assert result.total_steps == calm.total_steps == 4 * 30
    assert not [d for d in result.decisions if d.kind == "exploit_skip"]  # the killed copy was retried, not skipped
