"""Search efficiency (benchmarks issue, item 3): train-tune's sweep policy (ladder + TPE) against Optuna's own
TPE + SuccessiveHalvingPruner, TPE + HyperbandPruner, TPE without pruning, and random search at full
budget, on BoTorch's augmented Hartmann 3-D and 6-D (tests/support/standin_training.py), over many seeds.

Every arm trains in the same currency: a trial's fidelity is `steps / 81`, a segment from step a to step b
costs b - a steps (resuming is free), and budget is counted in full trainings (81 steps). The arms:

- `train-tune <kind>`: the real LadderSweepWorkflow on the embedded server (the real `suggest` activity,
  TPE with its default settings, `sampler.seed` = the seed), rungs 3/9/27/81 steps, eta 3, parallelism 1
  (`--parallelism`); `analytic_train` stands in for training (benchmarks/sweep_arm.py). With
  `--deterministic false` (arrival order) each proposal sees every result before it, like Optuna's
  sequential loop, as in the runs below (made before the ordered mode); the default, true, is the
  ordered mode (trial n learns from trials below n - 4; benchmarks/ordered_cost.py measures its cost).
- `optuna <pruner>`: `study.optimize` in this process, TPESampler(seed, n_startup_trials=5) and the pruner
  with the same rungs (min_resource 3, reduction factor 3, max_resource 81); a trial reports its value at
  steps 3, 9, 27 and 81 and stops where the pruner says.
- `random-full`: uniform points, each trained to 81 steps.

The recommendation after each result is what the tool would report: among the trials that reached the
highest fidelity reached so far, the best observed value. Its simple regret is the *true* full-fidelity
value there minus the optimum, over the range (optimum to 0, the function's upper bound):
r = (f(x, 1) - f*) / (0 - f*). Reported per arm: the budget until r <= 1% (median and IQR over seeds,
censored at the cap) and r at a fixed budget.

    python -m benchmarks.search_efficiency --seeds 20 --cap 60           # both functions, all arms
    python -m benchmarks.search_efficiency --smoke                       # 2 seeds, 3-D, small cap (CI)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.harness import train_in_segments
from benchmarks.sweep_arm import RUNGS, TARGET, TOP, Recommender, Trace, train_tune_arm
from tests.support.standin_training import (
    HARTMANN3_A,
    HARTMANN3_P,
    HARTMANN6_A,
    HARTMANN6_P,
    HARTMANN_ALPHA,
    HARTMANN_OPTIMUM,
    augmented_hartmann,
)

__all__ = ["RUNGS", "TARGET", "TOP", "Recommender", "Trace", "train_tune_arm"]

RESULTS = Path(__file__).parent / "results"


# --- Optuna arms -------------------------------------------------------------------------------------
def optuna_arm(pruner: str, dims: int, seed: int, cap: float) -> Trace:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    f, name = augmented_hartmann(dims), f"hartmann{dims}"
    trace, rec = Trace(f"optuna {pruner}", name, seed), Recommender(f, HARTMANN_OPTIMUM[dims])
    pruners = {"sha": optuna.pruners.SuccessiveHalvingPruner(min_resource=RUNGS[0], reduction_factor=3),
               "hyperband": optuna.pruners.HyperbandPruner(min_resource=RUNGS[0], max_resource=TOP, reduction_factor=3),
               "none": optuna.pruners.NopPruner()}
    # HyperbandPruner puts a trial in a bracket by hashing the study's name with the trial's number: name
    # the study, or the bracket draws (and the figures) change from run to run
    study = optuna.create_study(study_name=f"{name}-{pruner}-seed{seed}", pruner=pruners[pruner],
                                sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=5))

    def objective(trial: optuna.Trial) -> float:
        x = [trial.suggest_float(f"x{i}", 0.0, 1.0) for i in range(dims)]

        def train_to(step: int, done: int) -> float:
            value = f(x, step / TOP)
            rec.result(trial.number, x, step, value, step - done, trace)
            return value

        return train_in_segments(trial, RUNGS, train_to)

    while rec.spent / TOP < cap:
        study.optimize(objective, n_trials=1)
    trace.trials = len(study.trials)
    return trace


def random_full_arm(dims: int, seed: int, cap: float) -> Trace:
    f, rng = augmented_hartmann(dims), random.Random(seed)
    trace, rec = Trace("random-full", f"hartmann{dims}", seed), Recommender(f, HARTMANN_OPTIMUM[dims])
    while rec.spent / TOP < cap and rec.regret > TARGET:
        x = [rng.random() for _ in range(dims)]
        rec.result(trace.trials, x, TOP, f(x, 1.0), TOP, trace)
        trace.trials += 1
    return trace


def random_full_hit_probability(dims: int, samples: int, seed: int = 0) -> tuple[float, int]:
    """P(r <= 1%) for one uniform point, by Monte Carlo (numpy, `samples` points); and the hit count.
    Random search at full budget then needs a Geometric(p) number of trainings to reach the target,
    whose q-quantile is ceil(log(1 - q) / log(1 - p)): the table's random-full figures."""
    import numpy as np

    a = np.array(HARTMANN3_A if dims == 3 else HARTMANN6_A)
    p = np.array(HARTMANN3_P if dims == 3 else HARTMANN6_P)
    alpha = np.array(HARTMANN_ALPHA)
    optimum = HARTMANN_OPTIMUM[dims]
    rng, hits, chunk = np.random.default_rng(seed), 0, 1_000_000
    for start in range(0, samples, chunk):
        x = rng.random((min(chunk, samples - start), dims))
        f = -(alpha * np.exp(-((x[:, None, :] - p[None]) ** 2 * a[None]).sum(-1))).sum(-1)
        hits += int(((f - optimum) / -optimum <= TARGET).sum())
    return hits / samples, hits


def geometric_quantile(p: float, q: float) -> float:
    return math.inf if p <= 0 else float(math.ceil(math.log(1 - q) / math.log(1 - p)))


# --- summary ---------------------------------------------------------------------------------------------
def budget_to_target(trace: Trace) -> float:
    return next((budget for budget, regret in trace.points if regret <= TARGET), math.inf)


def regret_at(trace: Trace, budget: float) -> float:
    last = 1.0
    for spent, regret in trace.points:
        if spent > budget:
            break
        last = regret
    return last


def quartiles(values: list[float]) -> tuple[float, float, float]:
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0], ordered[0], ordered[0]
    q = statistics.quantiles(ordered, n=4, method="inclusive")
    return q[0], statistics.median(ordered), q[2]


def median_ratio_interval(
    numerator: list[float], denominator: list[float], level: float = 0.9, resamples: int = 10_000, seed: int = 0,
) -> tuple[float, float, float]:
    """Percentile bootstrap of R = median(numerator) / median(denominator) over independent seeds.

    Each resample draws len(x) values with replacement from each arm separately (the arms' seeds are not
    paired: seed k of one algorithm says nothing of seed k of another) and computes R*; the interval is
    the (1 - level)/2 and (1 + level)/2 quantiles of the R*. Values may be censored (math.inf: the target
    was not reached within the cap); a median of inf is kept, R* = inf / finite = inf, finite / inf = 0,
    inf / inf = 1 (neither arm reached it: no evidence either way). Returns (R, low, high); an interval
    that holds 1 means the seeds cannot tell the two arms apart at that level.
    """
    def ratio(a: float, b: float) -> float:
        if math.isinf(a) and math.isinf(b):
            return 1.0
        return math.inf if math.isinf(a) else (0.0 if math.isinf(b) else a / b)

    draw = random.Random(seed)
    stars = sorted(
        ratio(statistics.median(draw.choices(numerator, k=len(numerator))),
              statistics.median(draw.choices(denominator, k=len(denominator))))
        for _ in range(resamples)
    )
    low = stars[int(math.floor((1 - level) / 2 * (resamples - 1)))]
    high = stars[int(math.ceil((1 + level) / 2 * (resamples - 1)))]
    return ratio(statistics.median(numerator), statistics.median(denominator)), low, high


def summarise(traces: list[Trace], cap: float, fixed: float, hit: dict[str, float]) -> list[dict]:
    """One row per (function, arm); random-full's budget quantiles are Geometric(p) ones, p = hit[function]."""
    rows = []
    for (function, arm) in sorted({(t.function, t.arm) for t in traces}):
        mine = [t for t in traces if t.function == function and t.arm == arm]
        budgets = [budget_to_target(t) for t in mine]
        q1, median, q3 = quartiles(budgets)
        if arm == "random-full":
            q1, median, q3 = (geometric_quantile(hit[function], q) for q in (0.25, 0.5, 0.75))
        r1, rmed, r3 = quartiles([regret_at(t, fixed) for t in mine])
        rows.append({"function": function, "arm": arm, "seeds": len(mine), "reached": sum(b < math.inf for b in budgets),
                     "budget_to_1pct_median": median, "budget_to_1pct_q1": q1, "budget_to_1pct_q3": q3,
                     f"regret_at_{fixed:g}_median": rmed, f"regret_at_{fixed:g}_q1": r1, f"regret_at_{fixed:g}_q3": r3,
                     "trials_median": statistics.median(t.trials for t in mine), "cap": cap})
    return rows


def against_best_pruner(
    traces: list[Trace], rows: list[dict], fixed: float,
) -> dict[str, dict[str, tuple[float, float, float] | None]]:
    """Per function and train-tune arm, against Optuna's best pruner there (the lower median budget to 1%,
    else the lower median regret at `fixed`): the ratio of medians with its 90% bootstrap interval, for the
    budget to 1% (None where neither median reached it) and for the regret at `fixed` (below 1 is better
    for train-tune in both)."""
    found: dict[str, dict[str, tuple[float, float, float] | None]] = {}
    for function in sorted({r["function"] for r in rows}):
        mine = {r["arm"]: r for r in rows if r["function"] == function}
        pruners = [a for a in ("optuna sha", "optuna hyperband") if a in mine]
        if not pruners:
            continue
        best = min(pruners, key=lambda a: (mine[a]["budget_to_1pct_median"], mine[a][f"regret_at_{fixed:g}_median"]))

        def values(arm: str, measure: Callable[[Trace], float], function: str = function) -> list[float]:
            return [measure(t) for t in traces if t.function == function and t.arm == arm]

        for arm in (a for a in mine if a.startswith("train-tune")):
            budgets = values(arm, budget_to_target), values(best, budget_to_target)
            both_censored = all(math.isinf(statistics.median(b)) for b in budgets)
            found[f"{function} {arm} / {best}"] = {
                # neither median reached the target within the cap: nothing to compare (the regret says it)
                "budget_to_1pct": None if both_censored else median_ratio_interval(*budgets),
                f"regret_at_{fixed:g}": median_ratio_interval(values(arm, lambda t: regret_at(t, fixed)),
                                                              values(best, lambda t: regret_at(t, fixed))),
            }
    return found


def show(value: float, cap: float) -> str:
    return f"> {cap:g}" if value == math.inf else f"{value:.1f}"


def plot(traces: list[Trace], rows: list[dict], cap: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    functions = sorted({t.function for t in traces})
    figure, axes = plt.subplots(1, len(functions), figsize=(6 * len(functions), 4.5), squeeze=False)
    grid = [cap * i / 200 for i in range(1, 201)]
    for axis, function in zip(axes[0], functions, strict=False):
        for arm in sorted({t.arm for t in traces if t.function == function}):
            mine = [t for t in traces if t.function == function and t.arm == arm]
            bands = [quartiles([max(regret_at(t, b), 1e-6) for t in mine]) for b in grid]
            axis.plot(grid, [m for _, m, _ in bands], label=arm)
            axis.fill_between(grid, [q1 for q1, _, _ in bands], [q3 for _, _, q3 in bands], alpha=0.15)
        axis.axhline(TARGET, color="grey", linestyle=":", linewidth=1)
        axis.set_yscale("log")
        axis.set_xlabel("budget (full trainings of 81 steps)")
        axis.set_ylabel("simple regret of the recommendation (median, IQR)")
        axis.set_title(function)
        axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def write_report(path: Path, report: dict) -> None:
    """The report as indented JSON, but each trace on one line (thousands of points: indenting every number
    would make the file several MB)."""
    head = json.dumps({k: v for k, v in report.items() if k != "traces"}, indent=2)
    traces = ",\n".join("    " + json.dumps(t, separators=(",", ":")) for t in report["traces"])
    path.write_text(f'{head[:-2]},\n  "traces": [\n{traces}\n  ]\n}}\n')


def main(argv: list[str] | None = None) -> int:  # noqa: C901 - the run, then each table and figure in turn
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--cap", type=float, default=60.0, help="budget per run, in full trainings")
    parser.add_argument("--fixed", type=float, default=20.0, help="budget at which regret is compared")
    parser.add_argument("--dims", type=int, nargs="+", default=[3, 6])
    parser.add_argument("--random-cap", type=float, default=5000.0, help="random-full's cap, in full trainings")
    parser.add_argument("--random-samples", type=int, default=20_000_000,
                        help="uniform points for random-full's hit probability")
    parser.add_argument("--kinds", nargs="+", default=["hyperband", "asha"])
    parser.add_argument("--concurrent", type=int, default=4, help="train-tune sweeps at a time")
    parser.add_argument("--parallelism", type=int, default=1, help="trainings at a time in each train-tune sweep")
    parser.add_argument("--deterministic", choices=["true", "false"], default="true",
                        help="train-tune's sampler.deterministic (false: arrival order); see benchmarks/ordered_cost.py")
    parser.add_argument("--smoke", action="store_true", help="2 seeds, 3-D, cap 8 (CI)")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    if args.smoke:
        args.seeds, args.cap, args.fixed, args.dims, args.random_cap = 2, 8.0, 4.0, [3], 200.0
        args.random_samples = 200_000
    seeds = list(range(args.seeds))
    traces: list[Trace] = []
    started = time.perf_counter()
    for dims in args.dims:
        for kind in args.kinds:
            traces += asyncio.run(train_tune_arm(kind, dims, seeds, args.cap, args.concurrent, args.parallelism,
                                                 args.deterministic == "true"))
            print(f"train-tune {kind} hartmann{dims}: {time.perf_counter() - started:.0f} s", flush=True)
        for pruner in ("sha", "hyperband", "none"):
            traces += [optuna_arm(pruner, dims, seed, args.cap) for seed in seeds]
            print(f"optuna {pruner} hartmann{dims}: {time.perf_counter() - started:.0f} s", flush=True)
        traces += [random_full_arm(dims, seed, args.random_cap) for seed in seeds]
    hit = {}
    for dims in args.dims:
        p, hits = random_full_hit_probability(dims, args.random_samples)
        # with no hit in n samples, p < 3/n (95%): quote the quantiles of that bound as lower bounds
        hit[f"hartmann{dims}"] = p if hits else 3.0 / args.random_samples
        print(f"random-full hartmann{dims}: P(r <= 1%) = {p:.3g} ({hits} of {args.random_samples:,} uniform points)")
    rows = summarise(traces, args.cap, args.fixed, hit)
    for row in rows:
        if row["arm"] == "random-full":
            row["hit_probability"] = hit[row["function"]]
            row["exact_hits"] = row["hit_probability"] != 3.0 / args.random_samples
    print(f"\n{'function':10s} {'arm':22s} {'reached':>8s} {'budget to 1% (median [IQR])':>30s} "
          f"{f'regret at {args.fixed:g} (median [IQR])':>32s} {'trials':>7s}")
    for row in rows:
        if row["arm"] == "random-full":  # Geometric(p) quantiles; ">=" where p is only bounded
            mark = "" if row["exact_hits"] else ">= "
            budget = (f"{mark}{row['budget_to_1pct_median']:.3g} [{mark}{row['budget_to_1pct_q1']:.3g}, "
                      f"{mark}{row['budget_to_1pct_q3']:.3g}]")
        else:
            budget = (f"{show(row['budget_to_1pct_median'], args.cap)} [{show(row['budget_to_1pct_q1'], args.cap)}, "
                      f"{show(row['budget_to_1pct_q3'], args.cap)}]")
        regret = (f"{row[f'regret_at_{args.fixed:g}_median']:.4f} [{row[f'regret_at_{args.fixed:g}_q1']:.4f}, "
                  f"{row[f'regret_at_{args.fixed:g}_q3']:.4f}]")
        print(f"{row['function']:10s} {row['arm']:22s} {row['reached']:>3d}/{row['seeds']:<4d} {budget:>30s} "
              f"{regret:>32s} {row['trials_median']:>7g}")
    ratios = {}
    for function in sorted({r["function"] for r in rows}):
        by_arm = {r["arm"]: r["budget_to_1pct_median"] for r in rows if r["function"] == function}
        best_optuna = min(by_arm.get("optuna sha", math.inf), by_arm.get("optuna hyperband", math.inf))
        for arm, value in by_arm.items():  # a ratio only where both medians were reached (not censored)
            if arm.startswith("train-tune") and math.isfinite(value):
                if math.isfinite(by_arm["random-full"]):
                    ratios[f"{function} random-full / {arm}"] = by_arm["random-full"] / value
                if math.isfinite(best_optuna):
                    ratios[f"{function} {arm} / best optuna pruner"] = value / best_optuna
    print()
    for key, value in ratios.items():
        print(f"{key:60s} {value:.2f}")
    intervals = against_best_pruner(traces, rows, args.fixed)
    print(f"\n{'train-tune / best Optuna pruner (90% bootstrap interval)':60s} {'budget to 1%':>22s} "
          f"{f'regret at {args.fixed:g}':>22s}")
    for key, got in intervals.items():
        print(f"{key:60s} " + " ".join(f"{f'{g[0]:.2f} [{g[1]:.2f}, {g[2]:.2f}]' if g else 'both > cap':>22s}"
                                       for g in got.values()))
    out = Path(args.out)
    name = "search-efficiency-smoke" if args.smoke else "search-efficiency-" + "-".join(f"hartmann{d}" for d in args.dims)
    out.mkdir(parents=True, exist_ok=True)
    clean = [{k: (None if isinstance(v, float) and v == math.inf else v) for k, v in row.items()} for row in rows]
    write_report(out / f"{name}.json", {
        "rows": clean, "ratios": {k: (None if v in (math.inf, -math.inf) or math.isnan(v) else round(v, 3))
                                  for k, v in ratios.items()},
        "against_best_pruner": {k: {m: got and [None if math.isinf(v) else round(v, 3) for v in got]
                                    for m, got in by.items()} for k, by in intervals.items()},
        "seeds": args.seeds, "cap": args.cap, "random_cap": args.random_cap, "fixed_budget": args.fixed,
        "wall_s": round(time.perf_counter() - started, 1),
        "traces": [{"arm": t.arm, "function": t.function, "seed": t.seed, "trials": t.trials,
                    "points": [[round(b, 4), float(f"{r:.6g}")] for b, r in t.points if b <= args.cap]}
                   for t in traces],
    })
    plot(traces, rows, args.cap, out / f"{name}.png")
    print(f"written: {out / f'{name}.json'}, {out / f'{name}.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
