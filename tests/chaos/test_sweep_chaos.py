"""Chaos: a ladder sweep whose worker (training and orchestration) is SIGKILLed again and again at random
moments, a replacement started after each kill, ends with exactly the trial table and decisions of the
same sweep run without kills. Every killed segment resumes from the newest checkpoint that existed when
it died, so a kill costs at most one checkpoint interval of training."""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
from pathlib import Path

import pytest

from runner.worker import running_workers
from tests.workflows.test_ladder_sweep import small_sweep
from tests.workflows.test_resume import start_worker, stop
from workflows.ladder_sweep import LadderSweepWorkflow
from workflows.payloads.sweep import LadderSweepResult

EVERY = 10
KILLS = 4
RESUME_LINE = re.compile(r"attempt (\d+) resumes from (\S+)/trial(\d+)/step(\d+)\.ckpt")


def chaos_sweep(run_root, queues):
    sweep = small_sweep(run_root, queues, [30, 90], 4, "trainer.max_steps=90", "trainer.heartbeat_timeout_s=3")
    sweep.sampler.seed = 5
    return sweep


def newest_checkpoints(folder: Path) -> dict[int, int]:
    """trial -> newest step checkpoint (with its checksum written) in the sweep's checkpoint folder."""
    newest: dict[int, int] = {}
    for path in folder.glob("trial*/step*.ckpt.sha256"):
        trial, step = int(path.parent.name[5:]), int(path.name[4:12])
        newest[trial] = max(step, newest.get(trial, 0))
    return newest


def outcome(result: LadderSweepResult):
    trials = [(t.number, t.params, t.state, t.metrics, t.rung_steps, t.steps_trained) for t in result.trials]
    # the same decisions; their interleaving across concurrently running trials follows the timing
    decisions = sorted((d.kind, d.trial, d.rung) for d in result.decisions if d.kind != "prune")
    promotions = [(d.kind, d.trial, d.rung) for d in result.decisions if d.kind in ("promote", "stop")]
    return trials, decisions, promotions


_REFERENCE: list[LadderSweepResult] = []


async def calm_reference(client, run_root, queues) -> LadderSweepResult:
    """The same sweep without faults (run once per session). One training at a time, like the worker
    processes here: trainings sharing a process share torch's global RNG (dropout), so only one per
    process is reproducible bit for bit."""
    if not _REFERENCE:
        async with running_workers(client, queues, max_concurrent_training=1):
            handle = await client.start_workflow(LadderSweepWorkflow.run, chaos_sweep(run_root, queues),
                                                 id=f"calm-{queues.training}", task_queue=queues.orchestration)
            _REFERENCE.append(await handle.result())
    return _REFERENCE[0]


async def test_sweep_survives_repeated_worker_kills_with_the_same_decisions(temporal_env, run_root, queues,
                                                                          tmp_path):
    client = temporal_env.client
    reference = await calm_reference(client, run_root, queues)

    sweep = chaos_sweep(run_root, queues)
    address = client.service_client.config.target_host
    log = tmp_path / "workers.log"
    rng = random.Random(1234)
    worker = start_worker(address, queues, run_root, log)
    kills: list[tuple[float, dict[int, int]]] = []  # (when, newest checkpoint per trial at the kill)
    try:
        handle = await client.start_workflow(LadderSweepWorkflow.run, sweep, id=f"chaos-{queues.training}",
                                             task_queue=queues.orchestration)
        folder = Path(sweep.base.run_root) / "checkpoints" / handle.id
        result_future = asyncio.ensure_future(handle.result())
        for _ in range(KILLS):
            await asyncio.wait({result_future}, timeout=rng.uniform(4.0, 9.0))
            if result_future.done():
                break
            worker.send_signal(signal.SIGKILL)
            worker.wait(30)
            kills.append((asyncio.get_running_loop().time(), newest_checkpoints(folder)))
            with log.open("a") as out:
                out.write(f"=== KILL {len(kills)} ===\n")
            worker = start_worker(address, queues, run_root, log)
        result: LadderSweepResult = await asyncio.wait_for(result_future, timeout=600)
    finally:
        stop(worker)

    assert len(kills) >= 3, "the sweep ended before the chaos did its work; lengthen it"
    # nothing lost, nothing counted twice, and the same sweep as without kills
    assert outcome(result) == outcome(reference)
    rung_results = [(d.trial, d.rung) for d in result.decisions if d.kind == "rung_result"]
    assert len(rung_results) == len(set(rung_results)) == 4 + 2

    # each kill: the next resume of every trial that had a checkpoint starts from the newest one it had
    text = log.read_text()
    chunks = text.split("=== KILL ")
    wasted = []
    for number, (_, newest) in enumerate(kills, 1):
        after = chunks[number] if number < len(chunks) else ""
        resumes = {int(m.group(3)): int(m.group(4)) for m in RESUME_LINE.finditer(after)}
        for trial, step in resumes.items():
            if trial in newest and newest[trial] <= step:
                wasted.append(0 if step == newest[trial] else step - newest[trial])
            assert trial not in newest or step >= newest[trial], (number, trial, step, newest)
    print(f"kills {len(kills)}; resumes checked {len(wasted)}; trials lost 0; duplicates 0")


@pytest.mark.timeout(1500)  # a calm reference sweep, then the same sweep through a server kill
async def test_sweep_survives_a_server_sigkill_and_restart_on_the_same_sqlite(temporal_env, run_root, queues,
                                                                            tmp_path):
    from runner.connect import EMBEDDED_RETRY, connect_client
    from runner.embedded_server import EmbeddedServer, free_port

    reference = await calm_reference(temporal_env.client, run_root, queues)
    db_file, port = tmp_path / "temporal.sqlite", free_port()
    server = EmbeddedServer.ensure(db_file, port=port, ui=False)
    restarted = None
    try:
        client = await connect_client(server.address, "default", retry_config=EMBEDDED_RETRY)  # as the runner's
        sweep = chaos_sweep(run_root, queues)
        sweep.base.trainer.heartbeat_timeout_s = 15  # the server is down for a few seconds, not the worker
        async with running_workers(client, queues, max_concurrent_training=1):
            handle = await client.start_workflow(LadderSweepWorkflow.run, sweep, id=f"server-kill-{queues.training}",
                                                 task_queue=queues.orchestration)
            for _ in range(600):
                if sum(d.kind == "rung_result" for d in await handle.query(LadderSweepWorkflow.decision_log)) >= 2:
                    break
                await asyncio.sleep(0.1)
            killed = server.state.pid
            os.kill(killed, signal.SIGKILL)  # its keeper restarts it on the same SQLite file and port
            await asyncio.sleep(3)
            restarted = EmbeddedServer.ensure(db_file, port=port, ui=False)
            assert restarted.state.pid != killed and restarted.address == server.address
            result: LadderSweepResult = await asyncio.wait_for(handle.result(), timeout=600)
    finally:
        (restarted or server).stop()
        server.stop()
    assert outcome(result) == outcome(reference)
