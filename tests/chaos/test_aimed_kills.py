"""Chaos aimed at the worst moments (tests/chaos/faulty_worker.py): a worker SIGKILLed inside a checkpoint
write, between rungs (a segment finished and saved, its result not yet reported) and inside an
evaluation. A replacement takes over each time; nothing is lost, nothing is counted twice, and the
results are those of a calm run."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

from activities.evaluate import run_evaluation
from activities.snapshot import build_snapshot
from runner.resolve import resolve_run
from runner.submit import start_run
from tests.chaos.test_sweep_chaos import RESUME_LINE, calm_reference, chaos_sweep, outcome
from tests.conftest import SMALL_RUN, compose_config
from workflows.ladder_sweep import LadderSweepWorkflow
from workflows.payloads.messages import EvaluateRequest, SnapshotRequest
from workflows.payloads.sweep import LadderSweepResult

ROOT = Path(__file__).resolve().parents[2]
KILLED = re.compile(r"^CHAOS: SIGKILL (.*)$", re.M)


def start_faulty_worker(fault: str, address: str, queues, run_root: Path, log: Path) -> subprocess.Popen:
    with log.open("a") as out:
        out.write(f"=== WORKER {fault} ===\n")
    return subprocess.Popen(
        [sys.executable, "-m", "tests.chaos.faulty_worker", fault, "worker", f"temporal.address={address}",
         f"temporal.training_queue={queues.training}", f"temporal.orchestration_queue={queues.orchestration}",
         f"run_root={run_root}"],
        stdout=log.open("ab"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


async def run_through(faults: list[str], result_future: asyncio.Future, start) -> list[int]:
    """Start a worker per fault in turn, the next when the previous dies; the last one stays. Returns
    the exit codes of the workers that died."""
    died = []
    worker = start(faults[0])
    try:
        for fault in faults[1:]:
            while worker.poll() is None and not result_future.done():
                await asyncio.sleep(0.2)
            if result_future.done():
                break
            died.append(worker.wait())
            worker = start(fault)
        await asyncio.wait_for(asyncio.shield(result_future), timeout=600)
    finally:
        if worker.poll() is None:
            worker.kill()
        worker.wait(30)
    return died


async def test_kills_inside_a_checkpoint_write_and_between_rungs_lose_nothing(temporal_env, run_root, queues,
                                                                             tmp_path):
    client = temporal_env.client
    reference = await calm_reference(client, run_root, queues)
    sweep = chaos_sweep(run_root, queues)
    address = client.service_client.config.target_host
    log = tmp_path / "workers.log"
    handle = await client.start_workflow(LadderSweepWorkflow.run, sweep, id=f"aimed-{queues.training}",
                                         task_queue=queues.orchestration)
    result_future = asyncio.ensure_future(handle.result())
    faults = ["checkpoint_write:2", "after_segment:1", "checkpoint_write:3", "after_segment:2", "none"]
    died = await run_through(faults, result_future,
                             lambda fault: start_faulty_worker(fault, address, queues, run_root, log))
    result: LadderSweepResult = result_future.result()
    text = log.read_text()
    kills = KILLED.findall(text)

    assert died == [-9] * 4 and len(kills) == 4, text[-3000:]
    assert [k.split()[0] for k in kills] == ["inside", "after", "inside", "after"]
    # the same sweep as without kills: same proposals, metrics, promotions; no rung result twice
    assert outcome(result) == outcome(reference)
    rung_results = [(d.trial, d.rung) for d in result.decisions if d.kind == "rung_result"]
    assert len(rung_results) == len(set(rung_results)) == 4 + 2
    # after a kill inside a write, the torn checkpoint (.tmp, no checksum) is not resumed from: the
    # next attempt of that trial starts from the checkpoint before it
    for chunk in text.split("=== WORKER ")[2:]:
        resumes = RESUME_LINE.findall(chunk)
        assert all(not path.endswith(".tmp") for _, path, _, _ in resumes)
    torn = re.search(r"inside the write of (\S+)/trial(\d+)/step(\d+)\.ckpt", text)
    trial, step = int(torn.group(2)), int(torn.group(3))
    after = text[torn.end():]
    resumed = [int(s) for _, _, t, s in RESUME_LINE.findall(after) if int(t) == trial]
    assert resumed and resumed[0] == step - 10, (trial, step, resumed)  # the previous checkpoint (every 10)
    # between rungs: the finished segment is not trained again; its retry resumes at the rung's step
    segment = re.search(r"after the segment to step (\d+) of \S+/trial(\d+) finished", text)
    rung_step, trial = int(segment.group(1)), int(segment.group(2))
    after = text[segment.end():]
    assert [int(s) for _, _, t, s in RESUME_LINE.findall(after) if int(t) == trial][0] == rung_step


async def test_a_kill_inside_the_evaluation_retries_only_the_evaluation(temporal_env, run_root, queues, tmp_path):
    run, plain = resolve_run(compose_config(*SMALL_RUN, f"run_root={run_root}", "trainer.max_steps=20",
                                            "trainer.checkpoint_every_n_steps=10", "trainer.val_every_n_steps=10",
                                            "trainer.heartbeat_timeout_s=3"))
    run.queues = queues
    address = temporal_env.client.service_client.config.target_host
    log = tmp_path / "workers.log"
    handle = await start_run(temporal_env.client, run, plain)
    result_future = asyncio.ensure_future(handle.result())
    died = await run_through(["evaluation:1", "none"], result_future,
                             lambda fault: start_faulty_worker(fault, address, queues, run_root, log))
    result = result_future.result()
    text = log.read_text()
    assert died == [-9] and "inside the evaluation of" in text, text[-3000:]
    # training ran once (its one attempt); the evaluation's retry scored the same checkpoint as a calm
    # evaluation of it does
    assert result.train.attempt == 1 and result.train.global_step == 20
    snapshot = build_snapshot(SnapshotRequest(run.dataset, run.model.tokenizer, run.run_root))  # the same, reused
    calm = run_evaluation(EvaluateRequest(model=run.model, snapshot=snapshot, checkpoint=result.best_checkpoint,
                                          batch_size=run.trainer.eval_batch_size))
    assert result.metrics == calm.metrics
