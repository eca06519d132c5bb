"""Per-trial orchestration overhead (benchmarks issue, item 2): N trials that cost nothing, run as one
ladder-less sweep through the real LadderSweepWorkflow on the embedded server (temporal server start-dev
with its SQLite file), the `suggest` activity proposing each (random sampler) and `analytic_train`
(tests/support/standin_training.py) standing in for training. Prints trials/s, the round trip of each activity as
the server saw it (scheduled -> completed, p50/p99), and where the CPU went (the server process vs this
Python process, which runs client and workers); `--profile` adds the top functions of this process.

    python -m benchmarks.trial_overhead --trials 2000 --parallelism 8 [--profile]
    python -m benchmarks.trial_overhead --trials 5000 --parallelism 8 --name scale   # item 4: scale
    python -m benchmarks.trial_overhead --trials 5000 --ladder sha --name scale-sha  # rungs 1/3/9, eta 3
    python -m benchmarks.trial_overhead --smoke          # 40 trials (CI)

With `--ladder sha|asha|hyperband` each trial is one segment per rung it reaches (rungs of 1, 3 and 9
steps, eta 3): sha parks every trial at the first rung until all have reported, so its archive is used
hardest there.

Also reported: the number of workflow runs (continue-as-new), the largest run history, the largest single
payload in any history (what carried it) and the peak resident memory of the server and of this process.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import statistics
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def cpu_seconds(pid: int) -> float:
    """user + system CPU seconds of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def payload_bytes(event) -> tuple[str, int]:
    """(what it carried, bytes) of the largest payload field of one history event: a workflow's input or
    result, an activity's input or result, a signal's or update's arguments."""
    attributes = getattr(event, event.WhichOneof("attributes"))
    largest = ("", 0)
    for name in ("input", "result", "details"):
        field = attributes.DESCRIPTOR.fields_by_name.get(name)
        if field is None:
            continue
        value = getattr(attributes, name)
        if field.is_repeated:  # a marker's details: a map of payloads
            if field.message_type is None or not field.message_type.GetOptions().map_entry:
                continue
            size = sum(len(p.data) for payloads in value.values() for p in payloads.payloads)
        elif attributes.HasField(name):
            size = sum(len(p.data) for p in value.payloads)
        else:
            continue
        if size:
            largest = max(largest, (f"{event.WhichOneof('attributes').replace('_event_attributes', '')}.{name}",
                                    size), key=lambda item: item[1])
    return largest


def peak_rss_mb(pid: int | None = None) -> float:
    """Peak resident memory (VmHWM) of a process, in MB (Linux /proc)."""
    for line in Path(f"/proc/{pid or 'self'}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


async def round_trips(client, workflow_id: str) -> tuple[dict[str, list[float]], int, int, tuple[str, int]]:
    """Per activity type, and for the workflow's own tasks ("workflow_task"), scheduled -> completed seconds
    over every run of the workflow (continue-as-new chain); the number of runs, the largest history length
    and the largest payload (what, bytes)."""
    from temporalio.api.enums.v1 import EventType

    trips: dict[str, list[float]] = {}
    runs, longest, heaviest = 0, 0, ("", 0)
    handle = client.get_workflow_handle(workflow_id)
    first = (await handle.fetch_history()).events[0].workflow_execution_started_event_attributes.first_execution_run_id
    run_id: str | None = first
    while run_id:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        runs, longest = runs + 1, max(longest, len(history.events))
        scheduled = {}
        task_scheduled = history.events[0].event_time.ToDatetime()
        run_id = None
        for event in history.events:
            heaviest = max(heaviest, payload_bytes(event), key=lambda item: item[1])
            if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                scheduled[event.event_id] = (event.activity_task_scheduled_event_attributes.activity_type.name,
                                             event.event_time.ToDatetime())
            elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
                task_scheduled = event.event_time.ToDatetime()
            elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
                trips.setdefault("workflow_task", []).append(
                    (event.event_time.ToDatetime() - task_scheduled).total_seconds())
            elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
                name, at = scheduled[event.activity_task_completed_event_attributes.scheduled_event_id]
                trips.setdefault(name, []).append((event.event_time.ToDatetime() - at).total_seconds())
            elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
                run_id = event.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
    return trips, runs, longest, heaviest


async def run(args, run_root: Path) -> dict:
    from tests.support.standin_training import AnalyticTraining, no_op, space, sweep_environment
    from workflows.ladder_sweep import LadderSweepWorkflow
    from workflows.payloads.specs import SamplerSpec
    from workflows.payloads.sweep import FINAL_STATES, LadderSweepInput, LadderSweepResult

    training = AnalyticTraining(no_op, 2)
    rungs = [1.0] if args.ladder == "none" else [1.0, 3.0, 9.0]
    async with sweep_environment(run_root, training, args.parallelism, max_steps=int(rungs[-1])) as env:
        client, queues = env.client, env.base.queues
        sweep = LadderSweepInput(name="overhead", base=env.base, space=space(2),
                                 sampler=SamplerSpec(name="random", seed=0), n_trials=args.trials, rungs=rungs,
                                 kind=args.ladder, eta=3, parallelism=args.parallelism, archive_batch=100)
        # the snapshot is made once, before the clock starts (a real sweep makes it once too)
        warm = LadderSweepInput(**{**sweep.__dict__, "n_trials": 1, "name": "warm"})
        await client.execute_workflow(LadderSweepWorkflow.run, warm, id=f"warm-{queues.training}",
                                      task_queue=queues.orchestration)
        server_cpu, own_cpu = cpu_seconds(env.server_pid), time.process_time()
        started = time.perf_counter()
        profile = cProfile.Profile() if args.profile else None
        if profile:
            profile.enable()
        handle = await client.start_workflow(
            LadderSweepWorkflow.run, sweep, id=f"overhead-{queues.training}", task_queue=queues.orchestration,
            result_type=LadderSweepResult)
        result, stalled = await result_or_stall(handle, training, args.stall_s)
        if profile:
            profile.disable()
        wall = time.perf_counter() - started
        server_cpu, own_cpu = cpu_seconds(env.server_pid) - server_cpu, time.process_time() - own_cpu
        server_peak_mb = peak_rss_mb(env.server_pid)
        trips, runs, longest, heaviest = await round_trips(client, f"overhead-{queues.training}")
    if result is not None:
        from runner.sweep_results import with_archive

        result = with_archive(result)  # the trials the sweep archived, put back
    completed = sum(t.state in FINAL_STATES for t in result.trials) if result else len(training.calls)
    report = {
        "trials": args.trials, "completed": completed, "finished": result is not None, "stalled": stalled,
        "ladder": args.ladder, "segments": len(training.calls),
        "reached_top_rung": sum(t.state == "completed" for t in result.trials) if result else 0,
        "parallelism": args.parallelism, "wall_s": round(wall, 1),
        "trials_per_s": round(completed / wall, 2),
        **{f"{name}_round_trip_ms_p50": round(1000 * percentile(v, 0.5), 1) for name, v in sorted(trips.items())},
        **{f"{name}_round_trip_ms_p99": round(1000 * percentile(v, 0.99), 1) for name, v in sorted(trips.items())},
        "train_schedule_to_start_ms_p50": round(1000 * statistics.median(c.scheduled_to_start_s for c in training.calls), 1),
        "workflow_runs": runs, "largest_history_events": longest,
        "largest_payload_bytes": heaviest[1], "largest_payload": heaviest[0],
        "peak_rss_mb_server": server_peak_mb, "peak_rss_mb_python_client_and_workers": peak_rss_mb(),
        "cpu_s_server": round(server_cpu, 1), "cpu_s_python_client_and_workers": round(own_cpu, 1),
        "cpu_busy_fraction_of_2_cores": round((server_cpu + own_cpu) / (2 * wall), 2),
    }
    if profile:
        text = io.StringIO()
        pstats.Stats(profile, stream=text).sort_stats("tottime").print_stats(25)
        report["profile_file"] = "results/trial-overhead-profile.txt"
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "trial-overhead-profile.txt").write_text(text.getvalue())
    report["_trips"] = trips
    report["_completions"] = sorted(c.started for c in training.calls)
    return report


async def result_or_stall(handle, training, stall_s: float):
    """(the sweep's result, "") or, when no trial has trained for `stall_s` seconds, (None, why): the
    workflow's last task failure, read from its history; the sweep is then terminated."""
    from temporalio.api.enums.v1 import EventType

    finished = asyncio.ensure_future(handle.result())
    count, since = -1, time.monotonic()
    while not finished.done():
        await asyncio.wait({finished}, timeout=5.0)
        if len(training.calls) != count:
            count, since = len(training.calls), time.monotonic()
        elif time.monotonic() - since > stall_s:
            why = f"no trial trained for {stall_s:.0f} s"
            async for event in handle.fetch_history_events():
                if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                    why = event.workflow_task_failed_event_attributes.failure.message
            await handle.terminate(f"benchmark: {why}")
            finished.cancel()
            return None, why
    return finished.result(), ""


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    times = report["_completions"]
    left.plot([t - times[0] for t in times], range(1, len(times) + 1))
    left.set_xlabel("seconds")
    left.set_ylabel("trials trained")
    left.set_title(f"{report['trials_per_s']} trials/s (parallelism {report['parallelism']})")
    for name, values in sorted(report["_trips"].items()):
        right.hist([1000 * v for v in values], bins=50, alpha=0.6, label=name)
    right.set_xlabel("activity round trip, scheduled -> completed (ms)")
    right.set_yscale("log")
    right.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=2000)
    parser.add_argument("--parallelism", type=int, default=8)
    parser.add_argument("--ladder", default="none", choices=["none", "sha", "asha", "hyperband"],
                        help="none: one segment per trial; the others: rungs of 1, 3 and 9 steps, eta 3")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--smoke", action="store_true", help="40 trials, written as trial-overhead-smoke.*")
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--name", default="trial-overhead", help="file name of the JSON and PNG")
    parser.add_argument("--stall-s", type=float, default=60.0,
                        help="give up (and report why) when no trial has trained for this long")
    args = parser.parse_args(argv)
    if args.smoke:
        args.trials = 40
    with tempfile.TemporaryDirectory(prefix="tt-overhead-") as root:
        report = asyncio.run(run(args, Path(root)))
    for key, value in report.items():
        if not key.startswith("_"):
            print(f"{key:40s}{value}")
    out, name = Path(args.out), "trial-overhead-smoke" if args.smoke else args.name
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps({k: v for k, v in report.items() if not k.startswith("_")}, indent=2))
    plot(report, out / f"{name}.png")
    print(f"written: {out / f'{name}.json'}, {out / f'{name}.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
