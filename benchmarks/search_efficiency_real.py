"""Search efficiency on real training (benchmarks issue, item 3, second part): bert_tiny on BBC News, the
`lr_warmup` search space, validation accuracy, rungs 10/30/90 steps (eta 3), a few seeds.

Arms, all training with train-tune's own `fit` (resuming from the trial's checkpoint between rungs):
- `train-tune asha`: the `train-tune` sweep as resolved from config (`ladder=asha`, TPE), run through the real
  LadderSweepWorkflow and workers on the embedded server, parallelism 1; stopped (signal) at the cap.
- `optuna sha`: `study.optimize` with TPESampler(seed) + SuccessiveHalvingPruner(min_resource=10,
  reduction_factor=3); each trial trains segment by segment to 10, 30, 90 steps and reports at each.
- `optuna none`: TPE, every trial trained to 90 steps.
- `random-full`: random search, every trial trained to 90 steps.
- with `--peers-python` (the peers' venv): DEHB, SMAC3's Hyperband facade and Syne Tune's BOHB, each asking
  this process for its trainings over a pipe (`benchmarks.peers_real`); DEHB and SMAC also as `... resumed`.

Budget is training steps / 90 (full trainings). The recommendation after each result is the best validation
accuracy among the trials at the highest step reached; its value is what the tool would report. The
optimum is unknown, so "regret" is measured against the best recommendation any arm reached on that seed.

Before the arms, a rank check (`benchmarks.rung_signal`): `--rank-trials` configurations drawn at random from
the same space, each trained through every rung unpruned; Spearman's rank correlation of the first rung's
metrics with the top rung's says whether the first rung's promotions follow signal (near 1) or noise (near 0).

    python -m benchmarks.search_efficiency_real --seeds 3 --cap 10
    python -m benchmarks.search_efficiency_real --seeds 3 --cap 10 --rungs 30,90,270 --name search-efficiency-real-270
    python -m benchmarks.search_efficiency_real --seeds 5 --cap 10 --rungs 30,90,270 --rank-trials 0 \
        --peers-python /work/peers-venv/bin/python --name search-efficiency-real-peers
    python -m benchmarks.search_efficiency_real --smoke    # the rank check only: 3 configs, rungs 2/4, 120 articles
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks import peers, peers_real, rung_signal
from benchmarks.search_efficiency import quartiles

RESULTS = Path(__file__).parent / "results"
RUNGS = [10, 30, 90]
TOP = RUNGS[-1]
DATA = ["dataset.max_samples=800", "dataset.max_length=64", "trainer.batch_size=16"]
SMOKE_DATA = ["dataset.max_samples=120", "dataset.max_length=32", "trainer.batch_size=8"]


def config(run_root: Path, seed: int, n_trials: int, rungs: list[int] | None = None, probe: int = 0) -> list[str]:
    rungs = rungs or RUNGS  # a train-tune ladder may start higher (`--ladder-from`); the budget unit stays TOP
    every = min(10, math.gcd(*RUNGS))  # checkpoints and validations at every rung boundary
    return ["model=bert_tiny", "dataset=bbc_news", *DATA, f"trainer.max_steps={TOP}",
            f"trainer.checkpoint_every_n_steps={every}", f"trainer.val_every_n_steps={every}",
            "trainer.monitor=val_accuracy", "trainer.monitor_mode=max",
            "search_space=lr_warmup", "ladder=asha", f"ladder.rungs=[{','.join(map(str, rungs))}]", "ladder.eta=3",
            "ladder.keep_checkpoints=-1", f"n_trials={n_trials}", "parallelism=1", "direction=maximize",
            "sampler=tpe", f"sampler.seed={seed}", f"run_root={run_root}", f"experiment_name=search-real-{seed}",
            f"ladder.probe_trials={probe}"]


def resolved(run_root: Path, seed: int, n_trials: int = 500, rungs: list[int] | None = None, probe: int = 0):
    from runner.resolve import resolve_run
    from runner.sweep_config import resolve_sweep
    from tests.conftest import compose_config

    base, plain = resolve_run(compose_config(*config(run_root, seed, n_trials, rungs, probe)))
    return resolve_sweep(base, plain)


class Trace:
    """(budget in full trainings of `top` steps, recommended validation accuracy) after each result. `top`
    defaults to this run's TOP; `benchmarks.peers_real` passes it, since it imports this module afresh when it
    runs as `__main__` (whose globals `main` set, not the imported copy's)."""

    def __init__(self, top: int | None = None) -> None:
        self.top = top or TOP
        self.points: list[tuple[float, float]] = []
        self.spent = 0
        self.best: tuple[int, float] | None = None
        self.trials = 0

    def result(self, step: int, value: float, cost: int) -> None:
        self.spent += cost
        if not math.isnan(value) and (self.best is None or (step, value) > self.best):
            self.best = (step, value)
        self.points.append((self.spent / self.top, self.best[1] if self.best else float("nan")))


def optuna_arm(pruned: bool, random_search: bool, run_root: Path, seed: int, cap: float) -> Trace:
    import optuna

    from activities.suggest import distributions
    from benchmarks.harness import fit_segment, snapshot_of, train_in_segments
    from benchmarks.orchestration_overhead import suggest

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sweep = resolved(run_root, seed)
    snapshot = snapshot_of(sweep)
    dists, trace = distributions(sweep.space), Trace()
    sampler = (optuna.samplers.RandomSampler(seed=seed) if random_search
               else optuna.samplers.TPESampler(seed=seed, n_startup_trials=sweep.sampler.n_startup_trials))
    pruner = (optuna.pruners.SuccessiveHalvingPruner(min_resource=RUNGS[0], reduction_factor=3) if pruned
              else optuna.pruners.NopPruner())
    study = optuna.create_study(direction="maximize", sampler=sampler, pruner=pruner)

    def objective(trial: optuna.Trial) -> float:
        params = {key: suggest(trial, key, dist) for key, dist in dists.items()}
        folder, resume = f"{run_root}/checkpoints/optuna/trial{trial.number}", None

        def train_to(step: int, done: int) -> float:
            nonlocal resume
            result = fit_segment(sweep, snapshot, params, folder, stop_at=step, resume=resume)
            value = result.final_score if result.final_score is not None else float("nan")
            trace.result(step, value, step - done)
            resume = Path(result.last_checkpoint)
            return value

        return train_in_segments(trial, RUNGS if pruned else [TOP], train_to)

    while trace.spent / TOP < cap:
        study.optimize(objective, n_trials=1)
    trace.trials = len(study.trials)
    return trace


async def train_tune_arm(run_root: Path, seed: int, cap: float, start: int = 0, probe: int = 0) -> Trace:
    from runner.embedded_server import EmbeddedServer, free_port
    from runner.worker import running_workers
    from workflows.ladder_sweep import LadderSweepWorkflow
    from workflows.payloads.sweep import LadderSweepResult

    sweep = resolved(run_root, seed, rungs=[r for r in RUNGS if r >= start], probe=probe)
    server = EmbeddedServer.ensure(run_root / "temporal.sqlite", port=free_port(), ui=False)
    try:
        from runner.connect import connect_client

        client = await connect_client(server.address, "default")
        async with running_workers(client, sweep.base.queues):
            handle = await client.start_workflow(LadderSweepWorkflow.run, sweep, id=f"search-real-{seed}",
                                                 task_queue=sweep.base.queues.orchestration,
                                                 result_type=LadderSweepResult)
            while True:  # stop once the trials have trained `cap` full trainings' worth of steps
                trials = await handle.query(LadderSweepWorkflow.trials)
                if sum(t.steps_trained for t in trials) >= cap * TOP:
                    await handle.signal(LadderSweepWorkflow.stop)
                    break
                await asyncio.sleep(1.0)
            result: LadderSweepResult = await handle.result()
    finally:
        server.stop()
    trace, by_number = Trace(), {t.number: t for t in result.trials}
    for decision in result.decisions:  # results in the order they arrived (parallelism 1)
        if decision.kind == "rung_result":
            t = by_number[decision.trial]
            step = t.rung_steps[decision.rung]
            trace.result(step, t.metrics[decision.rung], step - (t.rung_steps[decision.rung - 1] if decision.rung else 0))
    trace.trials = len(result.trials)
    return trace


def arm_names(arm: str) -> list[str]:
    """The traces an arm gives: the fresh-evaluating peers a plain and a `resumed` one."""
    return [arm, f"{arm} resumed"] if arm in peers.FRESH else [arm]


def run_arm(arm: str, settings: object, root: Path, seed: int, args: argparse.Namespace) -> dict[str, Trace]:
    if settings is None or isinstance(settings, int):  # train-tune's ladder, from rung `settings` if given
        return {arm: asyncio.run(train_tune_arm(root, seed, args.cap, settings or 0))}
    if isinstance(settings, dict):  # train-tune's ladder with a rung probe of `settings["probe"]` trials
        return {arm: asyncio.run(train_tune_arm(root, seed, args.cap, probe=settings["probe"]))}
    if isinstance(settings, str):
        return peers_real.peer_arm(args.peers_python, settings, resolved(root, seed), RUNGS, seed, args.cap, root)
    return {arm: optuna_arm(*settings, root, seed, args.cap)}


def save_traces(path: Path, traces: dict[str, list[Trace]]) -> None:
    path.write_text(json.dumps({"rungs": RUNGS, "traces": [
        {"arm": arm, "seed": seed, "trials": t.trials, "points": t.points}
        for arm, mine in traces.items() for seed, t in enumerate(mine)]}))


def reused_traces(paths: list[str]) -> dict[tuple[str, int], Trace]:
    found: dict[tuple[str, int], Trace] = {}
    for path in paths:
        report = json.loads(Path(path).read_text())
        if report["rungs"] != RUNGS:
            raise SystemExit(f"--reuse {path}: rungs {report['rungs']}, this run's are {RUNGS}")
        for t in report["traces"]:
            trace = Trace()
            trace.points, trace.trials = [(float(b), float(v)) for b, v in t["points"]], t["trials"]
            found[(t["arm"], t["seed"])] = trace
    return found


def rank_check(n: int, seed: int = 1234) -> dict:
    """`benchmarks.rung_signal.rank_check` on this benchmark's setup: `n` random configurations trained
    through RUNGS unpruned (a seed of its own, apart from the arms' 0, 1, 2)."""
    with tempfile.TemporaryDirectory(prefix="tt-search-real-rank-") as root:
        check = rung_signal.rank_check(resolved(Path(root), seed, n_trials=n), n, seed)
    rung_signal.print_summary(check)
    return check


def against_best_peer(traces: dict[str, list[Trace]], best_per_seed: list[float], cap: float) -> dict:
    """Issue 25's figures on real training, in `benchmarks.search_efficiency`'s currency: the regret of a
    recommendation is its shortfall from the best accuracy any arm reached on that seed, relative to it
    ((best - accuracy) / best; 1 before any result). Every arm but random-full against the best peer (any arm
    but train-tune's and random-full): ratio of medians with a 90% bootstrap interval, for the budget to 1%
    and the regret at half the cap and at the cap. Printed, and returned for the report."""
    from benchmarks import regret
    from benchmarks import search_efficiency as se

    as_regret = [regret.Trace(arm, "bert_tiny", seed, [(b, 1.0 if math.isnan(v) else (best - v) / best)
                                                       for b, v in t.points if b <= cap], t.trials)
                 for arm, mine in traces.items() for seed, (t, best) in enumerate(zip(mine, best_per_seed, strict=False))]
    found: dict[str, dict] = {}
    for fixed in (cap / 2, cap):
        rows = se.summarise(as_regret, cap, fixed, {})
        for key, got in se.against_best_peer(as_regret, rows, fixed).items():
            found.setdefault(key, {}).update({m: g and [None if math.isinf(v) else round(v, 3) for v in g]
                                              for m, g in got.items()})
    print(f"\n{'arm / best peer (90% bootstrap interval; regret = shortfall from the seed best)':86s} "
          + " ".join(f"{m:>20s}" for m in next(iter(found.values()), {})))
    for key, got in found.items():
        print(f"{key:86s} " + " ".join(f"{'-' if g is None else f'{g[0]} [{g[1]}, {g[2]}]':>20s}" for g in got.values()))
    return found


def value_at(trace: Trace, budget: float) -> float:
    last = float("nan")
    for spent, value in trace.points:
        if spent > budget:
            break
        last = value
    return last


def check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """One line and exit 2 for an argument that would fail later, before any training."""
    if args.probe and args.probe < 3:
        parser.error(f"--probe {args.probe}: a rung probe needs at least 3 trials (ladder.probe_trials)")
    if args.ladder_from and args.ladder_from not in RUNGS[:-1]:
        parser.error(f"--ladder-from {args.ladder_from}: must be one of the rungs below the top, {RUNGS[:-1]}")
    why_not = peers.peers_usable(args.peers_python) if args.peers_python else None
    if why_not:  # a wrong venv would otherwise fail after the other arms' hours
        parser.error(f"--peers-python: {why_not}; install them with {peers.install_hint()}")
    for path in args.reuse:
        if not Path(path).is_file():
            parser.error(f"--reuse {path}: no such file (a traces file an earlier run wrote)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--cap", type=float, default=10.0, help="budget per run, in full trainings (top rung)")
    parser.add_argument("--rungs", default="10,30,90", help="rung budgets in steps (eta 3), multiples of 10")
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--name", default="search-efficiency-real", help="file name of the JSON and PNG")
    parser.add_argument("--rank-trials", type=int, default=8, help="configurations of the rank check (0: none)")
    parser.add_argument("--rank-only", action="store_true", help="the rank check alone, no arms")
    parser.add_argument("--smoke", action="store_true", help="the rank check alone: 3 configs, rungs 2/4, 120 articles")
    parser.add_argument("--peers-python", default=os.environ.get("TT_PEERS_PYTHON"),
                        help="python of the peers' venv (benchmarks/peers-requirements.txt): adds their arms")
    parser.add_argument("--peer-algorithms", nargs="+", default=list(peers_real.ALGORITHMS),
                        choices=peers.ALGORITHMS)
    parser.add_argument("--ladder-from", type=int, default=0, metavar="STEP",
                        help="add an arm: train-tune's asha with its ladder started at rung STEP (`train-tune asha@STEP`)")
    parser.add_argument("--probe", type=int, default=0, metavar="K",
                        help="add an arm: train-tune's asha with a rung probe of K trials (`train-tune asha+probeK`)")
    parser.add_argument("--arms", nargs="+", help="run only these arms (by name; a peer by its algorithm)")
    parser.add_argument("--reuse", nargs="*", default=[], help="traces files of earlier runs: arms and seeds found "
                        "there are not rerun")
    args = parser.parse_args(argv)
    global RUNGS, TOP, DATA  # noqa: PLW0603 - the arms read the rungs from here
    if args.smoke:
        args.rungs, args.rank_trials, args.rank_only, args.name, DATA = "2,4", 3, True, f"{args.name}-smoke", SMOKE_DATA
    RUNGS = [int(r) for r in args.rungs.split(",")]
    TOP = RUNGS[-1]
    check(parser, args)
    from runner.config_schema import register_configs

    register_configs()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rank = rank_check(args.rank_trials) if args.rank_trials else None
    if args.rank_only:
        (out / f"{args.name}.json").write_text(json.dumps({"rank_check": rank, "rungs": RUNGS}, indent=2))
        print(f"written: {out / f'{args.name}.json'}")
        return 0
    traces: dict[str, list[Trace]] = {}
    reused = reused_traces(args.reuse)
    started = time.perf_counter()
    arms: dict[str, object] = {"train-tune asha": None, "optuna sha": (True, False), "optuna none": (False, False),
                               "random-full": (False, True)}
    if args.peers_python:
        arms.update({name: name for name in args.peer_algorithms})
    if args.ladder_from:
        arms[f"train-tune asha@{args.ladder_from}"] = args.ladder_from
    if args.probe:
        arms[f"train-tune asha+probe{args.probe}"] = {"probe": args.probe}
    if args.arms:  # a subset: runs of the other arms can go beside this one and be merged with --reuse
        arms = {arm: settings for arm, settings in arms.items() if arm in args.arms}
    for seed in range(args.seeds):
        for arm, settings in arms.items():
            got = {name: reused[(name, seed)] for name in arm_names(arm) if (name, seed) in reused}
            if len(got) < len(arm_names(arm)):
                with tempfile.TemporaryDirectory(prefix="tt-search-real-") as root:
                    got = run_arm(arm, settings, Path(root), seed, args)
            for name, trace in got.items():
                traces.setdefault(name, []).append(trace)
                print(f"seed {seed} {name}: {trace.trials} trials, best {trace.points[-1][1]:.4f} "
                      f"({time.perf_counter() - started:.0f} s)", flush=True)
            save_traces(out / f"{args.name}.traces.json", traces)  # a run cut short keeps what it finished
    budgets = [args.cap * f for f in (0.25, 0.5, 1.0)]
    best_per_seed = [max(t[seed].points[-1][1] for t in traces.values()) for seed in range(args.seeds)]
    rows = []
    for arm, mine in traces.items():
        row = {"arm": arm, "trials_median": statistics.median(t.trials for t in mine)}
        for budget in budgets:
            q1, median, q3 = quartiles([value_at(t, budget) for t in mine])
            row[f"val_accuracy_at_{budget:g}"] = [round(q1, 4), round(median, 4), round(q3, 4)]
        within = [next((b for b, v in t.points if v >= best - 0.01), float("inf"))
                  for t, best in zip(mine, best_per_seed, strict=False)]
        row["budget_to_within_1pt_of_best"] = [None if b == float("inf") else round(b, 2) for b in within]
        rows.append(row)
    print(f"\n{'arm':18s} " + " ".join(f"{f'acc @ {b:g} (med [IQR])':>26s}" for b in budgets) + "  budget to best-1pt")
    for row in rows:
        cells = " ".join(f"{v[1]:.4f} [{v[0]:.4f}, {v[2]:.4f}]".rjust(26) for k, v in row.items()
                         if k.startswith("val_accuracy_at_"))
        print(f"{row['arm']:18s} {cells}  {row['budget_to_within_1pt_of_best']}")
    against = against_best_peer(traces, best_per_seed, args.cap)
    if rank:
        rung_signal.print_summary(rank)
    (out / f"{args.name}.json").write_text(json.dumps(
        {"rows": rows, "against_best_peer": against, "seeds": args.seeds, "cap": args.cap, "rungs": RUNGS,
         "rank_check": rank,
         "wall_s": round(time.perf_counter() - started, 1)}, indent=2))
    plot(traces, args.cap, out / f"{args.name}.png")
    print(f"written: {out / f'{args.name}.json'}")
    return 0


def plot(traces: dict[str, list[Trace]], cap: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = [cap * i / 100 for i in range(1, 101)]
    figure, axis = plt.subplots(figsize=(6.5, 4.5))
    for arm, mine in traces.items():
        bands = [quartiles([value_at(t, b) for t in mine]) for b in grid]
        axis.plot(grid, [m for _, m, _ in bands], label=arm)
        axis.fill_between(grid, [q1 for q1, _, _ in bands], [q3 for _, _, q3 in bands], alpha=0.15)
    axis.set_xlabel(f"budget (full trainings of {TOP} steps)")
    axis.set_ylabel("validation accuracy of the recommendation")
    axis.set_title("bert_tiny on BBC News (median, IQR over seeds)")
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


if __name__ == "__main__":
    raise SystemExit(main())
