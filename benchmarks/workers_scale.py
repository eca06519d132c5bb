"""Several workers (issue 25 §4): the no-cost sweep of `trial_overhead.py` served by N worker processes on
loopback, N = 1, 2, 4, against the embedded server with its SQLite file and against the same dev server
with its in-memory store (no `--db-filename`), to separate SQLite's share.

Each worker process serves both queues, as `train-tune worker` does: the real workflows and orchestration
activities (`suggest` proposes with Optuna's random sampler) and `analytic_train` as `train`
(tests/support/standin_training.py). Per (store, N), a fresh server and fresh workers; a one-trial sweep
makes the snapshot before the clock starts. Reported: trials/s; the round trip of each activity and of the
workflow's tasks (scheduled -> completed, as the server saw it), p50/p99; CPU seconds per trial of the
server, of all workers together and of this client; the 1-minute load average before and after.

    python -m benchmarks.workers_scale --trials 2000 --parallelism 8             # N = 1, 2, 4; sqlite, memory
    python -m benchmarks.workers_scale --smoke                                    # 40 trials, N = 1, 2 (CI)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from benchmarks.trial_overhead import RESULTS, cpu_seconds, percentile, round_trips

STORES = ("sqlite", "memory")


def start_server(store: str, root: Path, dynamic: list[str]) -> tuple[subprocess.Popen, str]:
    """`temporal server start-dev` on a free loopback port: with a SQLite file under `root`, or in memory;
    `dynamic`: extra dynamic config values (KEY=JSON_VALUE)."""
    from runner.embedded_server import HOST, free_port, server_command

    port = free_port()
    command = server_command(str(root / "temporal.sqlite"), port, 0, "default")
    if store == "memory":
        at = command.index("--db-filename")
        del command[at:at + 2]
    for value in dynamic:
        command += ["--dynamic-config-value", value]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    return server, f"{HOST}:{port}"


def start_workers(workers: list[subprocess.Popen], count: int, address: str, orchestration: str, training: str,
                  parallelism: int) -> None:
    """`count` worker processes, appended to `workers` as each starts (so that whoever stops them on the way
    out finds every one)."""
    command = [sys.executable, "-m", "benchmarks.workers_scale", "--serve", address, orchestration, training,
               str(parallelism)]
    for _ in range(count):
        workers.append(subprocess.Popen(command, stdout=subprocess.PIPE, text=True, start_new_session=True))


def await_serving(workers: list[subprocess.Popen]) -> None:
    """Return once each worker process has said it polls."""
    for worker in workers:
        line = worker.stdout.readline() if worker.stdout else ""
        if line.strip() != "serving":
            stop(workers)
            raise RuntimeError(f"a worker process did not start (exit {worker.poll()})")


def stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


async def serve(address: str, orchestration: str, queue: str, parallelism: int) -> None:
    """One worker process: the orchestration worker and a stand-in training worker, until SIGTERM."""
    import concurrent.futures

    from temporalio.worker import Worker

    from runner.connect import connect_client
    from runner.worker import ORCHESTRATION_ACTIVITIES, WORKFLOWS
    from tests.support.standin_training import AnalyticTraining, no_op

    logging.getLogger("temporalio.activity").setLevel(logging.CRITICAL)  # the final test evaluation fails:
    # the stand-in training writes no checkpoint (the sweep's result stands; `workflows.sweep_metrics`)
    client = await connect_client(address, "default", attempts=60)
    training = AnalyticTraining(no_op, 2)
    done = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, done.set)
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as executor:
        async with Worker(client, task_queue=orchestration, workflows=WORKFLOWS,
                          activities=ORCHESTRATION_ACTIVITIES, activity_executor=executor,
                          max_concurrent_activities=4), \
                Worker(client, task_queue=queue, activities=[training.activity()],
                       max_concurrent_activities=max(1, parallelism)):
            print("serving", flush=True)
            await done.wait()
    print(len(training.calls), flush=True)  # the segments this process trained


async def measure(store: str, count: int, args, root: Path) -> dict:
    from runner.connect import connect_client
    from runner.resolve import resolve_run
    from runner.sweep_results import with_archive
    from tests.conftest import SMALL_RUN, compose_config
    from tests.support.standin_training import space
    from workflows.ladder_sweep import LadderSweepWorkflow
    from workflows.payloads.specs import SamplerSpec, TaskQueues
    from workflows.payloads.sweep import FINAL_STATES, LadderSweepInput, LadderSweepResult

    server, address = start_server(store, root, args.dynamic_config)
    workers: list[subprocess.Popen] = []
    try:
        client = await connect_client(address, "default", attempts=60)
        suffix = uuid.uuid4().hex[:6]
        base, _ = resolve_run(compose_config(*SMALL_RUN, f"run_root={root}", "trainer.max_steps=1"))
        base.queues = TaskQueues(training=f"bench-train-{suffix}", orchestration=f"bench-orch-{suffix}")
        start_workers(workers, count, address, base.queues.orchestration, base.queues.training, args.parallelism)
        await asyncio.to_thread(await_serving, workers)
        sweep = LadderSweepInput(name="workers", base=base, space=space(2),
                                 sampler=SamplerSpec(name="random", seed=0), n_trials=args.trials, rungs=[1.0],
                                 kind="none", eta=3, parallelism=args.parallelism, archive_batch=100)
        warm = LadderSweepInput(**{**sweep.__dict__, "n_trials": 1, "name": "warm"})
        await client.execute_workflow(LadderSweepWorkflow.run, warm, id=f"warm-{suffix}",
                                      task_queue=base.queues.orchestration)
        load_before = os.getloadavg()[0]
        pids = [server.pid] + [w.pid for w in workers]
        cpu_before = [cpu_seconds(pid) for pid in pids]
        own_before, started = time.process_time(), time.perf_counter()
        result = await client.execute_workflow(LadderSweepWorkflow.run, sweep, id=f"workers-{suffix}",
                                               task_queue=base.queues.orchestration,
                                               result_type=LadderSweepResult)
        wall = time.perf_counter() - started
        cpu = [cpu_seconds(pid) - before for pid, before in zip(pids, cpu_before, strict=True)]
        own = time.process_time() - own_before
        load_after = os.getloadavg()[0]
        trips, runs, _, _ = await round_trips(client, f"workers-{suffix}")
    finally:
        stop(workers)
        stop([server])
    trained = [int((w.stdout.read() if w.stdout else "").strip() or 0) for w in workers]
    completed = sum(t.state in FINAL_STATES for t in with_archive(result).trials)
    per_trial_ms = {"server": cpu[0], "workers": sum(cpu[1:]), "client": own}
    return {
        "store": store, "workers": count, "parallelism": args.parallelism, "trials": args.trials,
        "completed": completed, "segments_per_worker": trained, "wall_s": round(wall, 1),
        "trials_per_s": round(completed / wall, 2),
        **{f"{name}_ms_p50": round(1000 * percentile(v, 0.5), 1) for name, v in sorted(trips.items())},
        **{f"{name}_ms_p99": round(1000 * percentile(v, 0.99), 1) for name, v in sorted(trips.items())},
        **{f"cpu_ms_per_trial_{who}": round(1000 * s / max(1, completed), 1) for who, s in per_trial_ms.items()},
        "cpu_busy_fraction_of_cores": round(sum(per_trial_ms.values()) / (wall * (os.cpu_count() or 1)), 2),
        "workflow_runs": runs, "load_before": round(load_before, 2), "load_after": round(load_after, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=2000)
    parser.add_argument("--parallelism", type=int, default=8)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--stores", nargs="+", default=list(STORES), choices=STORES)
    parser.add_argument("--dynamic-config", action="append", default=[], metavar="KEY=JSON_VALUE",
                        help="an extra dynamic config value for the server (repeatable)")
    parser.add_argument("--smoke", action="store_true", help="40 trials, N = 1 and 2 (workers-scale-smoke.json)")
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--name", default="workers-scale")
    parser.add_argument("--serve", nargs=4, metavar=("ADDRESS", "ORCH", "TRAIN", "PARALLELISM"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.trials < 1 or args.parallelism < 1 or min(args.workers) < 1:
        parser.error(f"--trials ({args.trials}), --parallelism ({args.parallelism}) and --workers "
                     f"({' '.join(map(str, args.workers))}) must be at least 1: with no worker nothing serves the sweep")
    if args.serve:
        address, orchestration, training, parallelism = args.serve
        asyncio.run(serve(address, orchestration, training, int(parallelism)))
        return 0
    if args.smoke:
        args.trials, args.workers, args.name = 40, [1, 2], "workers-scale-smoke"
    # the server and workers run in sessions of their own: a SIGTERM (a job runner's stop, `kill`) ends this
    # process as Ctrl-C does, through `measure`'s `finally`, which stops them
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    rows = []
    try:
        for store in args.stores:
            for count in args.workers:
                with tempfile.TemporaryDirectory(prefix="tt-workers-") as root:
                    row = asyncio.run(measure(store, count, args, Path(root)))
                rows.append(row)
                print(json.dumps(row), flush=True)
    except KeyboardInterrupt:
        print(f"stopped after {len(rows)} of {len(args.stores) * len(args.workers)} measurements; its server and "
              f"workers are stopped, nothing written", file=sys.stderr)
        return 130
    header = ("store", "workers", "trials_per_s", "train_ms_p50", "train_ms_p99", "suggest_ms_p50",
              "suggest_ms_p99", "workflow_task_ms_p50", "workflow_task_ms_p99", "cpu_ms_per_trial_server",
              "cpu_ms_per_trial_workers", "cpu_busy_fraction_of_cores", "load_before", "load_after")
    print("| " + " | ".join(header) + " |")
    for row in rows:
        print("| " + " | ".join(str(row.get(key, "")) for key in header) + " |")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{args.name}.json").write_text(json.dumps(rows, indent=2))
    print(f"written: {out / f'{args.name}.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
