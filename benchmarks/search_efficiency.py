"""Search efficiency (benchmarks issue, item 3; issue 25 section 1): train-tune's sweep policy (ladder + TPE)
against Optuna's own TPE + SuccessiveHalvingPruner, TPE + HyperbandPruner, TPE without pruning, random search
at full budget and the multi-fidelity peers DEHB, SMAC3 (MultiFidelityFacade, Hyperband) and Syne Tune
(BOHB: ASHA + KDE), on the problems of tests/support/problems.py (augmented Hartmann 3-D and 6-D; crossing3,
whose low fidelities mislead), over many seeds.

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
- the peers (benchmarks/peers.py, in their own venv: `--peers-python`, or TT_PEERS_PYTHON; skipped with a
  line saying how to install them when absent): `dehb`, `smac hyperband` (each budget evaluated from
  scratch, as they ask; their `... resumed` traces charge only the difference), `syne-tune bohb` and
  `syne-tune bohb hyperband` (stopping-type, a trial pays each step once).

The recommendation after each result is what the tool would report: among the trials that reached the
highest fidelity reached so far, the best observed value. Its simple regret is the *true* full-fidelity
value there minus the optimum, over the range (optimum to 0, the function's upper bound):
r = (f(x, 1) - f*) / (0 - f*). Reported per arm: the budget until r <= 1% (median and IQR over seeds,
censored at the cap), r at a fixed budget, and the ratio of medians to the best peer (every arm but
train-tune's and random-full) with a 90% bootstrap interval. One anytime plot per problem.

    python -m benchmarks.search_efficiency --seeds 20 --cap 60           # both functions, all arms
    python -m benchmarks.search_efficiency --problems crossing3 --peers-python /work/peers-venv/bin/python
    python -m benchmarks.search_efficiency --smoke                       # 2 seeds, 3-D, small cap (CI)
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import os
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks import peers
from benchmarks.harness import train_in_segments
from benchmarks.regret import RUNGS, TARGET, TOP, Recommender, Trace
from benchmarks.sweep_arm import as_problem, parse_kind, train_tune_arm
from tests.support.problems import (
    HARTMANN3_A,
    HARTMANN3_P,
    HARTMANN6_A,
    HARTMANN6_P,
    HARTMANN_ALPHA,
    HARTMANN_OPTIMUM,
    PROBLEMS,
    fidelity_rank_correlation,
)

__all__ = ["RUNGS", "TARGET", "TOP", "Recommender", "Trace", "train_tune_arm"]

RESULTS = Path(__file__).parent / "results"


# --- Optuna arms -------------------------------------------------------------------------------------
def optuna_arm(pruner: str, which: int | str, seed: int, cap: float) -> Trace:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    chosen = as_problem(which)
    f, name, dims = chosen.f, chosen.name, chosen.dims
    trace, rec = Trace(f"optuna {pruner}", name, seed), Recommender(f, chosen.optimum)
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


def random_full_arm(which: int | str, seed: int, cap: float) -> Trace:
    chosen, rng = as_problem(which), random.Random(seed)
    trace, rec = Trace("random-full", chosen.name, seed), Recommender(chosen.f, chosen.optimum)
    f = chosen.f
    while rec.spent / TOP < cap and rec.regret > TARGET:
        x = [rng.random() for _ in range(chosen.dims)]
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
    inf / inf = 1 (neither arm reached it: no evidence either way); likewise
    0 / 0 = 1 and a / 0 = inf (a regret of 0). Returns (R, low, high); an interval
    that holds 1 means the seeds cannot tell the two arms apart at that level.
    """
    def ratio(a: float, b: float) -> float:
        if (math.isinf(a) and math.isinf(b)) or a == b == 0.0:
            return 1.0
        if math.isinf(a) or b == 0.0:  # a regret of 0 (real training: the seed's best) beats any other
            return math.inf
        return 0.0 if math.isinf(b) else a / b

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
    """One row per (function, arm); random-full's budget quantiles are Geometric(p) ones where hit[function] gives p."""
    rows = []
    for (function, arm) in sorted({(t.function, t.arm) for t in traces}):
        mine = [t for t in traces if t.function == function and t.arm == arm]
        budgets = [budget_to_target(t) for t in mine]
        q1, median, q3 = quartiles(budgets)
        if arm == "random-full" and function in hit:
            q1, median, q3 = (geometric_quantile(hit[function], q) for q in (0.25, 0.5, 0.75))
        r1, rmed, r3 = quartiles([regret_at(t, fixed) for t in mine])
        rows.append({"function": function, "arm": arm, "seeds": len(mine), "reached": sum(b < math.inf for b in budgets),
                     "budget_to_1pct_median": median, "budget_to_1pct_q1": q1, "budget_to_1pct_q3": q3,
                     f"regret_at_{fixed:g}_median": rmed, f"regret_at_{fixed:g}_q1": r1, f"regret_at_{fixed:g}_q3": r3,
                     "trials_median": statistics.median(t.trials for t in mine), "cap": cap})
    return rows


def is_peer(arm: str) -> bool:
    """The arms train-tune is measured against: every arm but its own and random-full (the floor)."""
    return not arm.startswith("train-tune") and arm != "random-full"


def against_best(
    traces: list[Trace], rows: list[dict], fixed: float, candidates: Callable[[str], bool], mine: Callable[[str], bool],
) -> dict[str, dict[str, tuple[float, float, float] | None]]:
    """Per function, each arm that `mine` selects against the best of the `candidates` there (the lower median
    budget to 1%, else the lower median regret at `fixed`): the ratio of medians with its 90% bootstrap
    interval, for the budget to 1% (None where neither median reached it) and for the regret at `fixed`
    (below 1 is better for the arm in both). Keys: "<function> <arm> / <best>"."""
    found: dict[str, dict[str, tuple[float, float, float] | None]] = {}
    for function in sorted({r["function"] for r in rows}):
        by_arm = {r["arm"]: r for r in rows if r["function"] == function}
        pool = [a for a in by_arm if candidates(a)]
        if not pool:
            continue
        best = min(pool, key=lambda a: (by_arm[a]["budget_to_1pct_median"], by_arm[a][f"regret_at_{fixed:g}_median"]))

        def values(arm: str, measure: Callable[[Trace], float], function: str = function) -> list[float]:
            return [measure(t) for t in traces if t.function == function and t.arm == arm]

        for arm in (a for a in by_arm if mine(a)):
            budgets = values(arm, budget_to_target), values(best, budget_to_target)
            both_censored = all(math.isinf(statistics.median(b)) for b in budgets)
            found[f"{function} {arm} / {best}"] = {
                # neither median reached the target within the cap: nothing to compare (the regret says it)
                "budget_to_1pct": None if both_censored else median_ratio_interval(*budgets),
                f"regret_at_{fixed:g}": median_ratio_interval(values(arm, lambda t: regret_at(t, fixed)),
                                                              values(best, lambda t: regret_at(t, fixed))),
            }
    return found


def against_best_pruner(
    traces: list[Trace], rows: list[dict], fixed: float,
) -> dict[str, dict[str, tuple[float, float, float] | None]]:
    """Each train-tune arm against Optuna's best pruner (see `against_best`)."""
    return against_best(traces, rows, fixed, lambda a: a in ("optuna sha", "optuna hyperband"),
                        lambda a: a.startswith("train-tune"))


def against_best_peer(
    traces: list[Trace], rows: list[dict], fixed: float,
) -> dict[str, dict[str, tuple[float, float, float] | None]]:
    """Every arm but random-full against the best peer (`is_peer`; see `against_best`)."""
    return against_best(traces, rows, fixed, is_peer, lambda a: a != "random-full")


def show(value: float, cap: float) -> str:
    return f"> {cap:g}" if value == math.inf else f"{value:.1f}"


def plot(traces: list[Trace], cap: float, path: Path, title: str) -> None:
    """The anytime curves of one problem: median regret of each arm's recommendation against budget, IQR
    shaded for train-tune's arms (the peers' bands would hide the lines); train-tune solid, peers dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(8, 5.5))
    grid = [cap * i / 200 for i in range(1, 201)]
    arms = sorted({t.arm for t in traces})
    others = iter(plt.get_cmap("tab20").colors)
    own_colours = itertools.cycle(("black", "crimson", "darkorange", "navy", "darkgreen", "purple"))
    for arm in arms:
        mine = [t for t in traces if t.arm == arm]
        bands = [quartiles([max(regret_at(t, b), 1e-6) for t in mine]) for b in grid]
        own = arm.startswith("train-tune")
        colour = next(own_colours) if own else next(others)
        axis.plot(grid, [m for _, m, _ in bands], label=f"{arm} ({len(mine)} seeds)", color=colour,
                  linestyle="-" if own else "--", linewidth=2.2 if own else 1.2)
        if own:
            axis.fill_between(grid, [q1 for q1, _, _ in bands], [q3 for _, _, q3 in bands], alpha=0.12, color=colour)
    axis.axhline(TARGET, color="grey", linestyle=":", linewidth=1)
    axis.set_yscale("log")
    axis.set_xlabel("budget (full trainings of 81 steps)")
    axis.set_ylabel("simple regret of the recommendation (median)")
    axis.set_title(title)
    axis.legend(fontsize=7, ncol=2)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write_report(path: Path, report: dict) -> None:
    """The report as indented JSON, but each trace on one line (thousands of points: indenting every number
    would make the file several MB)."""
    head = json.dumps({k: v for k, v in report.items() if k != "traces"}, indent=2)
    traces = ",\n".join("    " + json.dumps(t, separators=(",", ":")) for t in report["traces"])
    path.write_text(f'{head[:-2]},\n  "traces": [\n{traces}\n  ]\n}}\n')


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--cap", type=float, default=60.0, help="budget per run, in full trainings")
    parser.add_argument("--fixed", type=float, default=20.0, help="budget at which regret is compared")
    parser.add_argument("--dims", type=int, nargs="+", default=[3, 6], help="augmented Hartmann's, without --problems")
    parser.add_argument("--problems", nargs="+", choices=PROBLEMS, help="tests/support/problems.py (default: --dims)")
    parser.add_argument("--random-cap", type=float, default=5000.0, help="random-full's cap, in full trainings")
    parser.add_argument("--random-samples", type=int, default=20_000_000,
                        help="uniform points for random-full's hit probability")
    parser.add_argument("--kinds", nargs="+", default=["hyperband", "asha"],
                        help="train-tune's ladders; KIND@R starts the ladder at rung R (e.g. asha@9: rungs 9/27/81)")
    parser.add_argument("--concurrent", type=int, default=4, help="train-tune sweeps at a time")
    parser.add_argument("--parallelism", type=int, default=1, help="trainings at a time in each train-tune sweep")
    parser.add_argument("--deterministic", choices=["true", "false"], default="true",
                        help="train-tune's sampler.deterministic (false: arrival order); see benchmarks/ordered_cost.py")
    parser.add_argument("--peers-python", default=os.environ.get("TT_PEERS_PYTHON"),
                        help="python of the peers' venv (benchmarks/peers-requirements.txt); without it they are skipped")
    parser.add_argument("--peer-jobs", type=int, default=1, help="peer child processes at a time")
    parser.add_argument("--reuse", nargs="*", default=[],
                        help="earlier reports (JSON with traces): an arm found there with every seed is not run again")
    parser.add_argument("--smoke", action="store_true", help="2 seeds, 3-D, cap 8 (CI)")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    for spec in args.kinds:
        try:
            parse_kind(spec)
        except ValueError as error:
            parser.error(f"--kinds {error}")
    if args.smoke:
        args.seeds, args.cap, args.fixed, args.dims, args.random_cap = 2, 8.0, 4.0, [3], 200.0
        args.random_samples, args.problems = 200_000, None
    args.problems = args.problems or [f"hartmann{d}" for d in args.dims]
    return args


def reused_traces(paths: list[str], seeds: list[int]) -> dict[tuple[str, str], list[Trace]]:
    """(function, arm) -> its traces for those of `seeds` that earlier reports hold (the rows say how many)."""
    found: dict[tuple[str, str], dict[int, Trace]] = {}
    for path in paths:
        for t in json.loads(Path(path).read_text())["traces"]:
            if t["seed"] in seeds:
                found.setdefault((t["function"], t["arm"]), {})[t["seed"]] = peers.trace_from_json(t)
    return {key: [by_seed[s] for s in sorted(by_seed)] for key, by_seed in found.items()}


def run_arms(args: argparse.Namespace, seeds: list[int]) -> tuple[list[Trace], dict[str, str], list[str]]:
    """Every arm on every problem (those in --reuse taken from there, with the seeds found there); the peers'
    versions; what was reused."""
    reused = reused_traces(args.reuse, seeds)
    traces: list[Trace] = []
    versions: dict[str, str] = {}
    for path in args.reuse:  # the peers' versions, where a reused report names them
        report = json.loads(Path(path).read_text())
        versions.update(report.get("versions") or report.get("peer_versions") or {})
    started = time.perf_counter()
    why_not = peers.peers_usable(args.peers_python)
    if why_not:
        print(f"peers skipped ({why_not}): install them with {peers.install_hint()}", flush=True)

    def arm(function: str, name: str, run: Callable[[], list[Trace]]) -> None:
        # random-full is rerun (a second's work): a report keeps its traces only up to the cap
        if (function, name) in reused and name != "random-full":
            traces.extend(reused[(function, name)])
            return
        traces.extend(run())
        print(f"{name} {function}: {time.perf_counter() - started:.0f} s", flush=True)

    for function in args.problems:
        for kind in args.kinds:
            arm(function, f"train-tune {kind}", lambda kind=kind, function=function: asyncio.run(train_tune_arm(
                kind, function, seeds, args.cap, args.concurrent, args.parallelism, args.deterministic == "true")))
        for pruner in ("sha", "hyperband", "none"):
            arm(function, f"optuna {pruner}", lambda pruner=pruner, function=function:
                [optuna_arm(pruner, function, seed, args.cap) for seed in seeds])
        arm(function, "random-full", lambda function=function:
            [random_full_arm(function, seed, args.random_cap) for seed in seeds])
        peer_arms = [key for key in reused if key[0] == function and peers.is_peer_arm(key[1])]
        traces.extend(t for key in peer_arms for t in reused[key])
        if len(peer_arms) < len(peers.ARMS) and not why_not:
            got, versions = peers.run_in_venv(args.peers_python, function, seeds, args.cap, args.peer_jobs)
            traces.extend(t for t in got if (function, t.arm) not in reused)
            print(f"peers {function}: {time.perf_counter() - started:.0f} s", flush=True)
    return traces, versions, sorted(f"{f} {a}" for f, a in reused if f in args.problems)


def print_tables(rows: list[dict], fixed: float, cap: float, comparisons: dict[str, dict]) -> None:
    print(f"\n{'function':10s} {'arm':26s} {'reached':>8s} {'budget to 1% (median [IQR])':>30s} "
          f"{f'regret at {fixed:g} (median [IQR])':>32s} {'trials':>7s}")
    for row in rows:
        if row["arm"] == "random-full":  # Geometric(p) quantiles; ">=" where p is only bounded
            mark = "" if row["exact_hits"] else ">= "
            budget = (f"{mark}{row['budget_to_1pct_median']:.3g} [{mark}{row['budget_to_1pct_q1']:.3g}, "
                      f"{mark}{row['budget_to_1pct_q3']:.3g}]")
        else:
            budget = (f"{show(row['budget_to_1pct_median'], cap)} [{show(row['budget_to_1pct_q1'], cap)}, "
                      f"{show(row['budget_to_1pct_q3'], cap)}]")
        regret = (f"{row[f'regret_at_{fixed:g}_median']:.4f} [{row[f'regret_at_{fixed:g}_q1']:.4f}, "
                  f"{row[f'regret_at_{fixed:g}_q3']:.4f}]")
        print(f"{row['function']:10s} {row['arm']:26s} {row['reached']:>3d}/{row['seeds']:<4d} {budget:>30s} "
              f"{regret:>32s} {row['trials_median']:>7g}")
    for title, intervals in comparisons.items():
        print(f"\n{title + ' (90% bootstrap interval)':72s} {'budget to 1%':>22s} {f'regret at {fixed:g}':>22s}")
        for key, got in intervals.items():
            print(f"{key:72s} " + " ".join(f"{f'{g[0]:.2f} [{g[1]:.2f}, {g[2]:.2f}]' if g else 'both > cap':>22s}"
                                           for g in got.values()))


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    seeds = list(range(args.seeds))
    started = time.perf_counter()
    correlation = {name: {f"{s}/{TOP}": round(fidelity_rank_correlation(name, s / TOP), 3) for s in RUNGS[:-1]}
                   for name in args.problems}
    for name, by_rung in correlation.items():
        print(f"{name}: Spearman rank correlation with the {TOP}-step values, 2,000 uniform points: "
              + ", ".join(f"{rung} {value:.2f}" for rung, value in by_rung.items()), flush=True)
    traces, versions, reused = run_arms(args, seeds)
    for t in traces:  # every arm is compared within its cap (a last segment may pass it)
        if t.arm != "random-full":
            t.points = [p for p in t.points if p[0] <= args.cap]
    hit = {}
    for name in args.problems:
        dims = as_problem(as_problem(name).full).dims
        p, hits = random_full_hit_probability(dims, args.random_samples)
        # with no hit in n samples, p < 3/n (95%): quote the quantiles of that bound as lower bounds
        hit[name] = p if hits else 3.0 / args.random_samples
        print(f"random-full {name}: P(r <= 1%) = {p:.3g} ({hits} of {args.random_samples:,} uniform points)")
    rows = summarise(traces, args.cap, args.fixed, hit)
    for row in rows:
        if row["arm"] == "random-full":
            row["hit_probability"] = hit[row["function"]]
            row["exact_hits"] = row["hit_probability"] != 3.0 / args.random_samples
    comparisons = {"train-tune / best Optuna pruner": against_best_pruner(traces, rows, args.fixed),
                   "arm / best peer": against_best_peer(traces, rows, args.fixed)}
    print_tables(rows, args.fixed, args.cap, comparisons)
    out = Path(args.out)
    name = "search-efficiency-smoke" if args.smoke else "search-efficiency-" + "-".join(args.problems)
    out.mkdir(parents=True, exist_ok=True)
    clean = [{k: (None if isinstance(v, float) and v == math.inf else v) for k, v in row.items()} for row in rows]

    def rounded(intervals: dict) -> dict:
        return {k: {m: got and [None if math.isinf(v) else round(v, 3) for v in got] for m, got in by.items()}
                for k, by in intervals.items()}

    write_report(out / f"{name}.json", {
        "rows": clean, "against_best_pruner": rounded(comparisons["train-tune / best Optuna pruner"]),
        "against_best_peer": rounded(comparisons["arm / best peer"]), "rank_correlation": correlation,
        "peer_versions": versions, "reused": reused, "seeds": args.seeds, "cap": args.cap,
        "random_cap": args.random_cap, "fixed_budget": args.fixed, "deterministic": args.deterministic,
        "wall_s": round(time.perf_counter() - started, 1),
        "traces": [{"arm": t.arm, "function": t.function, "seed": t.seed, "trials": t.trials,
                    "points": [[round(b, 4), float(f"{r:.6g}")] for b, r in t.points if b <= args.cap]}
                   for t in traces],
    })
    figures = []
    for function in args.problems:
        figure = out / ("search-efficiency-smoke.png" if args.smoke else f"search-efficiency-{function}.png")
        plot([t for t in traces if t.function == function], args.cap, figure, f"{function} ({len(seeds)} seeds)")
        figures.append(str(figure))
    print(f"written: {out / f'{name}.json'}, {', '.join(figures)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
