"""Recovery after a killed training (benchmarks issue, item 5): train-tune's chaos run next to Ray Tune's
`FailureConfig` under the same kill script, in one run.

Both arms train the same small real runs (bert_tiny, checkpoints every 10 steps, the same `fit`), one trial
at a time, and the process running the training is SIGKILLed at the same seeded moments (uniform 8-16 s
apart):

- train-tune: `benchmarks/reliability.py`'s chaos sweep (SHA over the trials); after each kill a
  replacement worker is started at once, and Temporal hands the training to it after the heartbeat
  timeout (3 s); the activity resumes from the newest verified checkpoint.
- ray: Ray Tune (`ray.init(num_cpus=2)`) with `FailureConfig(max_failures=-1)`: Ray restarts the trial in
  a new worker process by itself; the trainable calls the same `fit`, resuming from the newest verified
  checkpoint of its own folder (what Ray's function checkpointing would restore, without copying it).

Figures per arm: kills, trials lost, wasted steps per kill (step reached at the kill minus the step resumed
from; median, max) and recovery (kill -> training resumed; median, max).

    python -m benchmarks.recovery --kills 8 --trials 6 --top 240
    python -m benchmarks.recovery --smoke                  # 2 kills, 3 trials
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import statistics
import tempfile
import threading
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def ray_arm(args, run_root: Path) -> dict:
    """Ray Tune under the kill script; the trainable writes its PID and each resume to files the killer reads."""
    import ray
    from ray import tune

    from activities.engine.checkpoint_files import resume_checkpoint, step_of_checkpoint
    from benchmarks.harness import fit_segment, snapshot_of
    from benchmarks.reliability import last_steps
    from tests.workflows.test_ladder_sweep import small_sweep
    from workflows.payloads.specs import TaskQueues

    unused = TaskQueues(training="unused", orchestration="unused")  # nothing here goes through Temporal
    sweep = small_sweep(run_root, unused, [args.top], args.trials, f"trainer.max_steps={args.top}")
    snapshot = snapshot_of(sweep)
    folder = run_root / "checkpoints" / "ray"
    pid_file, resumes = run_root / "ray.pid", run_root / "ray-resumes.jsonl"

    def trainable(config: dict) -> None:
        trial = int(config["trial"])
        pid_file.write_text(str(os.getpid()))
        checkpoints = folder / f"trial{trial}"
        resume_from, _ = resume_checkpoint(checkpoints)
        if resume_from is not None:
            with resumes.open("a") as out:
                out.write(json.dumps({"trial": trial, "step": step_of_checkpoint(resume_from), "at": time.time()}) + "\n")
        result = fit_segment(sweep, snapshot, {"optim.lr": lrs[trial]}, str(checkpoints), resume=resume_from)
        tune.report({"score": result.final_score if result.final_score is not None else float("nan"),
                     "step": result.global_step})

    rng = random.Random(args.seed)
    lrs = [10 ** rng.uniform(-4, -2.5) for _ in range(args.trials)]
    kills: list[dict] = []
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        tuner = tune.Tuner(
            tune.with_resources(trainable, {"cpu": 2}),
            param_space={"trial": tune.grid_search(list(range(args.trials)))},
            tune_config=tune.TuneConfig(max_concurrent_trials=1),
            run_config=tune.RunConfig(storage_path=str(run_root / "ray"), verbose=0,
                                      failure_config=tune.FailureConfig(max_failures=-1)),
        )
        outcome: dict = {}
        started = time.monotonic()
        runner = threading.Thread(target=lambda: outcome.setdefault("results", tuner.fit()), daemon=True)
        runner.start()
        kill_rng = random.Random(args.seed)
        while len(kills) < args.kills and runner.is_alive():
            runner.join(timeout=kill_rng.uniform(8.0, 16.0))
            if not runner.is_alive() or not pid_file.exists():
                continue
            steps = last_steps(folder)
            try:
                os.kill(int(pid_file.read_text()), signal.SIGKILL)
            except ProcessLookupError:
                continue
            kills.append({"at": time.time(), "steps_at_kill": steps})
        runner.join(timeout=1800)
        wall = time.monotonic() - started
        results = outcome["results"]
    finally:
        ray.shutdown()
    resumed = [json.loads(line) for line in resumes.read_text().splitlines()] if resumes.exists() else []
    return {**recovery_figures(kills, resumed), "trials": args.trials,
            "trials_lost": sum(1 for r in results if r.error) + args.trials - len(results),
            "wall_s": round(wall, 1)}


def recovery_figures(kills: list[dict], resumed: list[dict]) -> dict:
    """Match each kill to the first resume after it: wasted steps and seconds to resume."""
    wasted, recovery = [], []
    for index, kill in enumerate(kills):
        until = kills[index + 1]["at"] if index + 1 < len(kills) else float("inf")
        after = [r for r in resumed if kill["at"] <= r["at"] < until]
        if after:
            first = min(after, key=lambda r: r["at"])
            recovery.append(first["at"] - kill["at"])
            if first["trial"] in kill["steps_at_kill"]:
                wasted.append(kill["steps_at_kill"][first["trial"]] - first["step"])
    return {"kills": len(kills), "resumes_after_a_kill": len(recovery),
            "wasted_steps_per_kill_median": statistics.median(wasted) if wasted else None,
            "wasted_steps_per_kill_max": max(wasted) if wasted else None,
            "recovery_s_median": round(statistics.median(recovery), 2) if recovery else None,
            "recovery_s_max": round(max(recovery), 2) if recovery else None}


def main(argv: list[str] | None = None) -> int:
    from benchmarks import reliability

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=8)
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--first", type=int, default=60, help="train-tune's first rung, steps")
    parser.add_argument("--top", type=int, default=240, help="steps of a full trial")
    parser.add_argument("--smoke", action="store_true", help="2 kills, 3 trials of 240 steps")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    if args.smoke:
        args.kills, args.trials, args.first, args.top = 2, 3, 60, 240
    from runner.config_schema import register_configs

    register_configs()
    figures = {}
    with tempfile.TemporaryDirectory(prefix="tt-recovery-") as folder:
        (Path(folder) / "train-tune").mkdir()
        ours = asyncio.run(reliability.chaos(args, Path(folder) / "train-tune"))
        figures["train-tune"] = {k: ours[k] for k in ("kills", "trials", "trials_lost", "wasted_steps_per_kill_median",
                                                      "wasted_steps_per_kill_max", "recovery_s_median", "recovery_s_max")}
        figures["train-tune"]["wall_s"] = ours["chaos_wall_s"]
        (Path(folder) / "ray").mkdir()
        figures["ray"] = ray_arm(args, Path(folder) / "ray")
    keys = ["kills", "trials_lost", "wasted_steps_per_kill_median", "wasted_steps_per_kill_max", "recovery_s_median",
            "recovery_s_max", "wall_s"]
    print(f"{'figure':32s} {'train-tune':>12s} {'ray':>12s}")
    for key in keys:
        print(f"{key:32s} {str(figures['train-tune'].get(key)):>12s} {str(figures['ray'].get(key)):>12s}")
    ours_s, ray_s = figures["train-tune"]["recovery_s_median"], figures["ray"]["recovery_s_median"]
    if ours_s and ray_s:
        figures["recovery_median_ratio_train_tune_over_ray"] = round(ours_s / ray_s, 2)
        print(f"recovery median, train-tune / ray: {ours_s / ray_s:.2f}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = "recovery-smoke" if args.smoke else "recovery"
    (out / f"{name}.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(f"written: {out / f'{name}.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
