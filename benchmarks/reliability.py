"""Reliability report (issue: chaos suite): a ladder sweep whose training worker is SIGKILLed again and
again, a replacement started after each kill, against the same sweep without kills; then the bad-input
matrix. Prints one table and writes benchmarks/results/reliability.json (reliability-smoke.json with --smoke).

    python -m benchmarks.reliability [--kills 8] [--trials 6] [--smoke]

Figures: kills survived, trials lost (must be 0), duplicate rung results (0), same decisions and trial
table as the calm run, wasted steps per kill (heartbeat step at the kill minus the step the next attempt
resumed from; median/max), recovery time (replacement worker started -> training resumed), bad inputs
tried and how many got a clear error naming key and value.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import signal
import statistics
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

RESUME = re.compile(r"^(\S+ \S+) INFO .*attempt (\d+) resumes from \S+/trial(\d+)/step(\d+)\.ckpt", re.M)


def last_steps(folder: Path) -> dict[int, int]:
    """trial -> the global step its training had finished when read (the `last_step` file it writes)."""
    from activities.engine.checkpoint_files import STEP_FILE

    return {int(p.parent.name[5:]): int(p.read_text().split()[0]) for p in folder.glob(f"trial*/{STEP_FILE}")
            if p.read_text().strip()}


async def chaos(args, run_root: Path) -> dict:
    from temporalio.testing import WorkflowEnvironment

    from runner.embedded_server import free_port, temporal_binary
    from runner.worker import running_workers
    from tests.chaos.test_sweep_chaos import newest_checkpoints, outcome
    from tests.workflows.test_ladder_sweep import small_sweep
    from tests.workflows.test_resume import start_worker, stop
    from workflows.ladder_sweep import LadderSweepWorkflow
    from workflows.payloads.specs import TaskQueues

    env = await WorkflowEnvironment.start_local(dev_server_existing_path=temporal_binary(), ip="127.0.0.1",
                                                port=free_port(), ui=False)
    try:
        client = env.client
        queues = TaskQueues(training=f"bench-train-{uuid.uuid4().hex[:6]}", orchestration=f"bench-orch-{uuid.uuid4().hex[:6]}")

        def sweep():
            s = small_sweep(run_root, queues, [args.first, args.top], args.trials, f"trainer.max_steps={args.top}",
                            "trainer.heartbeat_timeout_s=3")
            s.sampler.seed = 5
            return s

        started = time.monotonic()
        async with running_workers(client, queues, max_concurrent_training=1):
            calm = await (await client.start_workflow(LadderSweepWorkflow.run, sweep(), id=f"calm-{queues.training}",
                                                      task_queue=queues.orchestration)).result()
        calm_s = time.monotonic() - started

        rng = random.Random(args.seed)
        log = run_root / "workers.log"
        address = client.service_client.config.target_host
        kills: list[dict] = []
        started = time.monotonic()
        async with running_workers(client, queues, serve="orchestration"):
            worker = start_worker(address, TaskQueues(training=queues.training, orchestration="unused-" + queues.training),
                                  run_root, log)
            try:
                handle = await client.start_workflow(LadderSweepWorkflow.run, sweep(), id=f"chaos-{queues.training}",
                                                     task_queue=queues.orchestration)
                done = asyncio.ensure_future(handle.result())
                while len(kills) < args.kills:
                    await asyncio.wait({done}, timeout=rng.uniform(8.0, 16.0))  # a worker takes ~5 s to boot
                    if done.done():
                        break
                    worker.send_signal(signal.SIGKILL)
                    worker.wait(30)
                    steps = last_steps(run_root / "checkpoints" / handle.id)
                    newest = newest_checkpoints(run_root / "checkpoints" / handle.id)
                    with log.open("a") as out:
                        out.write(f"=== KILL {len(kills) + 1}\n")
                    restart = datetime.now()
                    worker = start_worker(address, TaskQueues(training=queues.training,
                                                              orchestration="unused-" + queues.training), run_root, log)
                    kills.append({"steps_at_kill": steps, "newest_checkpoint": newest,
                                  "replacement_started": restart.isoformat()})
                result = await asyncio.wait_for(done, timeout=1800)
            finally:
                stop(worker)
        chaos_s = time.monotonic() - started
    finally:
        await env.shutdown()

    chunks = log.read_text().split("=== KILL ")[1:]
    wasted, recovery, from_newest, resumes = [], [], 0, 0
    for kill, chunk in zip(kills, chunks, strict=False):
        restart = datetime.fromisoformat(kill["replacement_started"])
        for match in RESUME.finditer(chunk):
            trial, step = int(match.group(3)), int(match.group(4))
            if trial in kill["steps_at_kill"]:
                wasted.append(kill["steps_at_kill"][trial] - step)
            if trial in kill["newest_checkpoint"]:
                resumes += 1
                from_newest += step == kill["newest_checkpoint"][trial]
            when = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f")
            recovery.append((when - restart).total_seconds())
    rung_results = [(d.trial, d.rung) for d in result.decisions if d.kind == "rung_result"]
    failed = [f"trial {t.number}: {t.error}" for t in result.trials if t.state == "failed"]
    if failed or outcome(result) != outcome(calm):
        # keep the evidence: the run root is a temporary folder
        kept = Path("benchmarks/results/reliability-workers.log")
        kept.write_text(log.read_text() + "\n=== FAILED TRIALS\n" + "\n".join(failed) + "\n")
        print(f"the chaos run differs from the calm run; its worker log is kept in {kept}")
    return {
        "failed_trials": failed,
        "kills": len(kills), "trials": args.trials,
        "trials_lost": sum(1 for t in result.trials if t.state == "failed") + args.trials - len(result.trials),
        "duplicate_rung_results": len(rung_results) - len(set(rung_results)),
        "same_as_calm_run": outcome(result) == outcome(calm),
        "wasted_steps_per_kill_median": statistics.median(wasted) if wasted else None,
        "wasted_steps_per_kill_max": max(wasted) if wasted else None,
        "checkpoint_interval_steps": 10,
        "resumed_from_newest_checkpoint_at_kill": f"{from_newest}/{resumes}",
        "recovery_s_median": round(statistics.median(recovery), 2) if recovery else None,
        "recovery_s_max": round(max(recovery), 2) if recovery else None,
        "calm_wall_s": round(calm_s, 1), "chaos_wall_s": round(chaos_s, 1),
    }


def bad_inputs() -> dict:
    """The bad-input matrix of tests/unit/test_bad_input.py, counted."""
    import os

    from tests.unit.test_bad_input import CASES, files, resolve

    clear = 0
    with tempfile.TemporaryDirectory() as folder:
        paths = files(Path(folder))
        cwd = os.getcwd()
        os.chdir(folder)
        try:
            for _, overrides, expected in CASES:
                fill = lambda text: [text := text.replace("{" + k + "}", v) for k, v in paths.items()][-1]  # noqa: E731
                try:
                    resolve([fill(o) for o in overrides])
                except Exception as error:  # noqa: BLE001 - each bad input's error, whatever its type, is scored
                    text = f"{error} {error.__cause__ or ''}"
                    clear += all(fill(e) in text for e in expected)
        finally:
            os.chdir(cwd)
    return {"bad_inputs_tried": len(CASES), "bad_inputs_clear_error": clear}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=8)
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--first", type=int, default=30, help="first rung, steps")
    parser.add_argument("--top", type=int, default=120, help="top rung, steps (longer sweeps take more kills)")
    parser.add_argument("--smoke", action="store_true", help="2 kills, 4 trials (for CI)")
    args = parser.parse_args()
    if args.smoke:
        args.kills, args.trials = 2, 4
    from runner.config_schema import register_configs

    register_configs()
    with tempfile.TemporaryDirectory(prefix="tt-reliability-") as folder:
        figures = asyncio.run(chaos(args, Path(folder)))
    figures |= bad_inputs()
    width = max(map(len, figures))
    for key, value in figures.items():
        print(f"{key:<{width}}  {value}")
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    name = "reliability-smoke" if args.smoke else "reliability"  # a smoke run leaves the real figures alone
    (out / f"{name}.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(f"written: {out / f'{name}.json'}")


if __name__ == "__main__":
    main()
