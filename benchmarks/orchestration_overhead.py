"""Orchestration overhead (benchmarks issue, item 1): the same sweep of N short real trainings (bert_tiny on
BBC News, random sampler over the `lr_warmup` space, one trial at a time, every trial trained to the same
step count) run three ways, each as its own process timed from launch to exit:

  (a) optuna     a plain in-process `study.optimize` loop calling train-tune's training code (`fit`, the
                 function the `train` activity runs) on a dataset snapshot built in the same process;
  (b) train-tune the `train-tune` command on the embedded server (it starts the server and a worker,
                 snapshots the data, runs the sweep through Temporal, writes its results);
  (c) ray        Ray Tune (`ray.init(num_cpus=2)`, each trial given both CPUs) with a trainable calling the
                 same `fit`; skipped with a note when `ray[tune]` is not installed (`pip install -e ".[bench]"`).

(a) and (b) run `--repeats` times each (default 2) in ABBA order (a b b a ...), Ray once after the first
pair; an arm's wall time is the mean of its runs. Per-trial overhead of an arm = (its wall time - the time
(a) spent inside `fit`) / N. Prints the table and the ratios b/a (also per pair) and b/c (targets:
b/a <= 1.10, b/c < 1), writes JSON and a PNG.

    python -m benchmarks.orchestration_overhead --trials 24 --steps 40
    python -m benchmarks.orchestration_overhead --smoke           # 2 trials of 4 steps (CI; ray if installed)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def overrides(args, run_root: Path, name: str) -> list[str]:
    """The sweep every arm runs: the same config `train-tune` resolves."""
    return ["experiment=bert_sweep", "ladder=none", f"ladder.rungs=[{args.steps}]", f"trainer.max_steps={args.steps}",
            f"trainer.checkpoint_every_n_steps={args.steps}", f"trainer.val_every_n_steps={args.steps}",
            f"n_trials={args.trials}", "parallelism=1", "sampler=random", f"sampler.seed={args.seed}",
            f"dataset.max_samples={args.samples}", f"run_root={run_root}", f"experiment_name={name}"]


def resolved(args, run_root: Path):
    from runner.resolve import resolve_run
    from runner.sweep_config import resolve_sweep
    from tests.conftest import compose_config

    base, plain = resolve_run(compose_config(*overrides(args, run_root, "overhead")))
    return resolve_sweep(base, plain)


def train_once(sweep, snapshot, params: dict, folder: str) -> tuple[float, float]:
    """One trial as the sweep trains it: (score, seconds in fit)."""
    from benchmarks.harness import fit_segment

    started = time.perf_counter()
    result = fit_segment(sweep, snapshot, params, folder)
    score = result.final_score if result.final_score is not None else result.best_score
    return float(score if score is not None else float("nan")), time.perf_counter() - started


def suggest(trial, key: str, dist):
    """The `trial.suggest_*` call for one of train-tune's search distributions."""
    import optuna

    if isinstance(dist, optuna.distributions.CategoricalDistribution):
        return trial.suggest_categorical(key, dist.choices)
    if isinstance(dist, optuna.distributions.IntDistribution):
        return trial.suggest_int(key, dist.low, dist.high, step=dist.step, log=dist.log)
    return trial.suggest_float(key, dist.low, dist.high, step=dist.step, log=dist.log)


def arm_optuna(args, run_root: Path) -> dict:
    import optuna

    from activities.suggest import distributions
    from benchmarks.harness import snapshot_of

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sweep = resolved(args, run_root)
    snapshot = snapshot_of(sweep)
    dists = distributions(sweep.space)
    fit_seconds: list[float] = []

    def objective(trial: optuna.Trial) -> float:
        params = {key: suggest(trial, key, dist) for key, dist in dists.items()}
        score, seconds = train_once(sweep, snapshot, params, f"{run_root}/checkpoints/optuna/trial{trial.number}")
        fit_seconds.append(seconds)
        return score

    study = optuna.create_study(direction=sweep.direction, sampler=optuna.samplers.RandomSampler(seed=args.seed))
    study.optimize(objective, n_trials=args.trials)
    return {"fit_seconds": fit_seconds, "best": study.best_value, "completed": len(study.trials)}


def arm_ray(args, run_root: Path) -> dict:
    import ray
    from ray import tune

    from benchmarks.harness import snapshot_of

    sweep = resolved(args, run_root)
    snapshot = snapshot_of(sweep)  # built once, before the trials (as (a) and (b) do)
    space = {}
    for p in sweep.space:
        if p.type == "categorical":
            space[p.key] = tune.choice(list(p.choices))
        elif p.type == "int":
            space[p.key] = tune.randint(int(p.low), int(p.high) + 1)
        else:
            space[p.key] = tune.loguniform(p.low, p.high) if p.log else tune.uniform(p.low, p.high)

    def trainable(config: dict) -> None:
        folder = f"{run_root}/checkpoints/ray/trial{uuid.uuid4().hex[:8]}"
        score, seconds = train_once(sweep, snapshot, dict(config), folder)
        tune.report({"score": score, "fit_seconds": seconds})

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        tuner = tune.Tuner(
            tune.with_resources(trainable, {"cpu": 2}), param_space=space,
            tune_config=tune.TuneConfig(num_samples=args.trials, max_concurrent_trials=1, metric="score",
                                        mode="min" if sweep.direction == "minimize" else "max",
                                        search_alg=tune.search.BasicVariantGenerator(random_state=args.seed)),
            run_config=tune.RunConfig(storage_path=str(run_root / "ray"), verbose=0),
        )
        results = tuner.fit()
        fit_seconds = [r.metrics["fit_seconds"] for r in results if r.metrics]
        return {"fit_seconds": fit_seconds, "best": results.get_best_result().metrics["score"],
                "completed": len(fit_seconds), "errors": sum(1 for r in results if r.error)}
    finally:
        ray.shutdown()


def timed(command: list[str], env: dict[str, str], log: Path) -> tuple[float, int]:
    started = time.perf_counter()
    with log.open("w") as out:
        code = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, env=env, check=False).returncode
    return time.perf_counter() - started, code


def ray_installed() -> bool:
    try:
        import ray.tune  # noqa: F401
    except ImportError:
        return False
    return True


def schedule(arms: list[str], repeats: int) -> list[str]:
    """The order the arms run in: (a) and (b) `repeats` times each, alternating ABBA (a b, b a, a b, ...)
    so a machine that slows down or speeds up during the run weighs on both alike; Ray once, after the
    first pair (it takes three times as long, and only b/c < 1 is asked of it)."""
    paired = [arm for arm in arms if arm != "ray"]
    order: list[str] = []
    for round_ in range(repeats):
        order += paired if round_ % 2 == 0 else paired[::-1]
        if round_ == 0 and "ray" in arms:
            order.append("ray")
    return order


def run_arm(args, root: Path, arm: str, index: int) -> tuple[float, dict]:
    """One arm as its own process, timed from launch to exit: (wall seconds, its figures)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    common = ["--trials", str(args.trials), "--steps", str(args.steps), "--samples", str(args.samples),
              "--seed", str(args.seed)]
    run_root = root / f"{arm}-{index}"
    run_root.mkdir()
    out = root / f"{arm}-{index}.json"
    hydra_dir = root / f"hydra-{index}"
    if arm == "train-tune":
        command = [str(Path(sys.executable).with_name("train-tune")),
                   *overrides(args, run_root, f"overhead-{uuid.uuid4().hex[:6]}"), f"hydra.run.dir={hydra_dir}"]
    else:
        command = [sys.executable, "-m", "benchmarks.orchestration_overhead", "--arm", arm, "--json", str(out),
                   "--run-root", str(run_root), *common]
    log = root / f"{arm}-{index}.log"
    wall, code = timed(command, env, log)
    if code != 0:
        print(log.read_text()[-3000:])
        raise SystemExit(f"arm {arm} exited {code}")
    figures = json.loads(out.read_text()) if out.exists() else {}
    if arm == "train-tune":  # what the command wrote: its sweep.json
        trials = json.loads((hydra_dir / "sweep.json").read_text())["trials"]
        figures["completed"] = sum(t["state"] == "completed" for t in trials)
    print(f"{arm}: {wall:.1f} s", flush=True)
    return wall, figures


def measure(args, root: Path) -> dict:
    report: dict = {"trials": args.trials, "steps_per_trial": args.steps, "samples": args.samples,
                    "repeats": args.repeats, "arms": {}}
    arms = [a for a in args.arms if a != "ray" or ray_installed()]
    if "ray" in args.arms and "ray" not in arms:
        report["ray"] = "not installed: pip install -e '.[bench]'"
        print("ray[tune] is not installed: arm (c) skipped (pip install -e '.[bench]')")
    order = schedule(arms, args.repeats)
    report["order"] = order
    runs: dict[str, list[tuple[float, dict]]] = {}
    for index, arm in enumerate(order):
        runs.setdefault(arm, []).append(run_arm(args, root, arm, index))
    fit_totals = [sum(figures["fit_seconds"]) for _, figures in runs["optuna"]]
    fit_total = sum(fit_totals) / len(fit_totals)
    report["fit_s_total_a"] = round(fit_total, 1)
    for arm, done in runs.items():
        walls = [wall for wall, _ in done]
        figures = {key: value for key, value in done[0][1].items() if key != "fit_seconds"}
        figures["completed"] = min(f.get("completed", 0) for _, f in done)
        figures["wall_s"] = round(sum(walls) / len(walls), 1)
        figures["walls_s"] = [round(w, 1) for w in walls]
        figures["overhead_s_per_trial"] = round((figures["wall_s"] - fit_total) / args.trials, 2)
        if arm == "optuna":
            figures["fit_s_total"] = round(fit_total, 1)
        report["arms"][arm] = figures
    wall = {arm: figures["wall_s"] for arm, figures in report["arms"].items()}
    report["b_over_a"] = round(wall["train-tune"] / wall["optuna"], 3)
    report["b_over_a_by_pair"] = [round(b / a, 3) for a, b in zip(report["arms"]["optuna"]["walls_s"],
                                                                   report["arms"]["train-tune"]["walls_s"], strict=False)]
    if "ray" in wall:
        report["b_over_c"] = round(wall["train-tune"] / wall["ray"], 3)
    return report


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arms = list(report["arms"])
    fit = report["fit_s_total_a"]
    figure, axis = plt.subplots(figsize=(7, 3.5))
    walls = [report["arms"][a]["wall_s"] for a in arms]
    axis.barh(arms, [fit] * len(arms), label="training (time (a) spent in fit)")
    axis.barh(arms, [w - fit for w in walls], left=[fit] * len(arms), label="everything else")
    for i, w in enumerate(walls):
        axis.text(w, i, f" {w:.0f} s", va="center")
    axis.set_xlabel(f"wall seconds (mean of {report['repeats']} runs for optuna and train-tune), "
                    f"{report['trials']} trials of {report['steps_per_trial']} steps")
    axis.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--steps", type=int, default=40, help="training steps per trial")
    parser.add_argument("--samples", type=int, default=600, help="dataset.max_samples")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--arms", nargs="+", default=["optuna", "train-tune", "ray"])
    parser.add_argument("--repeats", type=int, default=2, help="runs of (a) and (b) each, in ABBA order")
    parser.add_argument("--smoke", action="store_true", help="2 trials of 4 steps (CI)")
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--arm", help=argparse.SUPPRESS)  # a child process running one arm
    parser.add_argument("--json", help=argparse.SUPPRESS)
    parser.add_argument("--run-root", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.arm:
        figures = {"optuna": arm_optuna, "ray": arm_ray}[args.arm](args, Path(args.run_root))
        Path(args.json).write_text(json.dumps(figures))
        return 0
    if args.smoke:
        args.trials, args.steps, args.samples, args.repeats = 2, 4, 200, 1
    with tempfile.TemporaryDirectory(prefix="tt-overhead-") as root:
        report = measure(args, Path(root))
    for arm, figures in report["arms"].items():
        print(f"{arm:12s} wall {figures['wall_s']:7.1f} s   overhead per trial {figures['overhead_s_per_trial']:6.2f} s"
              f"   trials completed {figures['completed']}")
    print(f"training inside fit, arm (a): {report['fit_s_total_a']} s (mean of {args.repeats} runs)")
    print(f"order: {' '.join(report['order'])}; b/a per pair: {report['b_over_a_by_pair']}")
    print(f"b/a = {report['b_over_a']} (mean walls; target <= 1.10)" + (f";  b/c = {report['b_over_c']} (target < 1)"
                                                              if "b_over_c" in report else ""))
    out, name = Path(args.out), "orchestration-overhead-smoke" if args.smoke else "orchestration-overhead"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(report, indent=2))
    plot(report, out / f"{name}.png")
    print(f"written: {out / f'{name}.json'}, {out / f'{name}.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
