"""The cost of deciding independently of timing (issue 19): train-tune's sweep with `sampler.deterministic`
true (ordered: workflows/schedulers/asha_ordered.py) against false (arrival order), the same seeds, in the same run.

Both modes run the search-efficiency setup (benchmarks/search_efficiency.py: augmented Hartmann, rungs
3/9/27/81 steps, eta 3, TPE, the real LadderSweepWorkflow on the embedded server, `analytic_train` for
training) at each `--parallelism`. Each segment also sleeps `--step-ms` per step trained (no CPU), so a
training slot left idle (a proposal waiting for trial n - lag, an asha promotion waiting for a lower-numbered
trial) costs wall time as it would with real training. The two modes of a seed are started side by side on
one server (plans ordered seed 0 ordered, seed 0 arrival, seed 1 ordered, ...; `--concurrent` at a time),
so the machine's load falls on both alike; the load average is sampled through the run and reported.

Per parallelism and mode: budget to 1% regret (full trainings of 81 steps), regret at `--fixed`, wall time to
1% regret, and seconds per full training of budget (wall time / budget spent; the sweep stops at `--cap`), and
ordered / arrival as ratios of medians with 90% bootstrap intervals over the seeds (an interval holding 1:
the seeds cannot tell the modes apart).

    python -m benchmarks.ordered_cost --seeds 10 --cap 20 --parallelism 4 1
    python -m benchmarks.ordered_cost --smoke          # 1 seed, cap 2, parallelism 4 (CI)
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import statistics
import threading
import time
from pathlib import Path

from benchmarks.search_efficiency import (
    RESULTS,
    budget_to_target,
    median_ratio_interval,
    plot,
    quartiles,
    regret_at,
    write_report,
)
from benchmarks.sweep_arm import TARGET, SweepPlan, Trace, run_sweeps

MODES = {"ordered": True, "arrival": False}


def arm_name(kind: str, parallelism: int, mode: str) -> str:
    return f"{kind} p{parallelism} {mode}"


def plans_for(kind: str, parallelism: int, seeds: list[int], lag: int, n_trials: int = 0) -> list[SweepPlan]:
    """Both modes of each seed next to each other, so that `--concurrent` (even) runs them side by side."""
    return [SweepPlan(arm_name(kind, parallelism, mode), seed, parallelism, deterministic, lag, n_trials)
            for seed in seeds for mode, deterministic in MODES.items()]


def seconds_to_target(trace: Trace) -> float:
    return next((s for (_, regret), s in zip(trace.points, trace.seconds, strict=False) if regret <= TARGET), math.inf)


def spent_by_stop(trace: Trace) -> float:
    """The budget spent when the sweep was told to stop (segments in flight then still report after it)."""
    return max((b for (b, _), s in zip(trace.points, trace.seconds, strict=False) if s <= trace.wall_s), default=0.0)


def seconds_per_training(trace: Trace) -> float:
    spent = spent_by_stop(trace)
    return trace.wall_s / spent if spent else math.inf


def slot_use(trace: Trace, parallelism: int, step_s: float) -> float:
    """The share of the sweep's training slots busy training: steps trained x step time / (wall x slots)."""
    spent = spent_by_stop(trace)
    return spent * 81 * step_s / (trace.wall_s * parallelism) if trace.wall_s and step_s else math.nan


def final_regret(trace: Trace) -> float:
    """The regret of the sweep's last recommendation (a sweep of `--n-trials` trials: its winner)."""
    return trace.points[-1][1] if trace.points else 1.0


MEASURES = {"budget_to_1pct": budget_to_target, "seconds_to_1pct": seconds_to_target,
            "seconds_per_training": seconds_per_training, "final_regret": final_regret,
            "budget": lambda t: t.points[-1][0] if t.points else 0.0, "wall_s": lambda t: t.wall_s,
            "budget_to_top_rung": lambda t: t.first_top}


def summarise(traces: list[Trace], fixed: float, step_s: float) -> tuple[list[dict], dict[str, dict]]:
    """Rows per arm (median and IQR of each measure) and, per kind and parallelism, ordered / arrival:
    the ratio of medians with its 90% bootstrap interval for each measure and for the regret at `fixed`."""
    rows, ratios = [], {}
    for arm in sorted({t.arm for t in traces}, key=lambda a: (a.split()[0], -int(a.split()[1][1:]), a)):
        mine = [t for t in traces if t.arm == arm]
        parallelism = int(arm.split()[1][1:])
        row: dict = {"arm": arm, "seeds": len(mine), "reached": sum(budget_to_target(t) < math.inf for t in mine),
                     "trials_median": statistics.median(t.trials for t in mine)}
        for name, measure in {**MEASURES, f"regret_at_{fixed:g}": lambda t: regret_at(t, fixed)}.items():
            row[f"{name}_q1"], row[f"{name}_median"], row[f"{name}_q3"] = quartiles([measure(t) for t in mine])
        row["slot_use_median"] = statistics.median(slot_use(t, parallelism, step_s) for t in mine)
        rows.append(row)
    for arm in (r["arm"] for r in rows if r["arm"].endswith(" ordered")):
        other = arm.replace(" ordered", " arrival")
        ordered, arrival = ([t for t in traces if t.arm == a] for a in (arm, other))
        if not arrival:
            continue
        ratios[arm.replace(" ordered", "")] = {
            name: median_ratio_interval([measure(t) for t in ordered], [measure(t) for t in arrival])
            for name, measure in {**MEASURES, f"regret_at_{fixed:g}": lambda t: regret_at(t, fixed)}.items()}
    return rows, ratios


class LoadSampler:
    """The 1-minute load average every `every` seconds in a thread, while the run lasts."""

    def __init__(self, every: float = 5.0) -> None:
        self.every, self.samples, self._stop = every, [os.getloadavg()[0]], threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.samples.append(os.getloadavg()[0])

    def __enter__(self) -> LoadSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append(os.getloadavg()[0])

    def summary(self) -> dict:
        return {"cpus": os.cpu_count(), "load_1min_min": min(self.samples),
                "load_1min_median": statistics.median(self.samples), "load_1min_max": max(self.samples),
                "samples": len(self.samples)}


def show(value: float, digits: int = 1) -> str:
    return "inf" if math.isinf(value) else f"{value:.{digits}f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--cap", type=float, default=20.0, help="budget per sweep, in full trainings")
    parser.add_argument("--fixed", type=float, default=10.0, help="budget at which regret is compared")
    parser.add_argument("--dims", type=int, default=3)
    parser.add_argument("--kinds", nargs="+", default=["asha"])
    parser.add_argument("--parallelism", type=int, nargs="+", default=[4, 1])
    parser.add_argument("--lag", type=int, default=4, help="sampler.lag of the ordered mode")
    parser.add_argument("--n-trials", type=int, default=0, help="trials per sweep (0: without end, up to --cap)")
    parser.add_argument("--step-ms", type=float, default=20.0, help="training time per step (sleep)")
    parser.add_argument("--concurrent", type=int, default=2, help="sweeps at a time (even: both modes of a seed)")
    parser.add_argument("--smoke", action="store_true", help="1 seed, cap 2, parallelism 4 (CI)")
    parser.add_argument("--name", default="ordered-cost")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    if args.smoke:
        args.seeds, args.cap, args.fixed, args.parallelism, args.step_ms = 1, 2.0, 1.0, [4], 5.0
        args.name = "ordered-cost-smoke"
    seeds, step_s = list(range(args.seeds)), args.step_ms / 1000
    traces: list[Trace] = []
    started = time.perf_counter()
    with LoadSampler() as load:
        for kind in args.kinds:
            for parallelism in args.parallelism:
                plans = plans_for(kind, parallelism, seeds, args.lag, args.n_trials)
                traces += asyncio.run(run_sweeps(kind, args.dims, plans, args.cap, args.concurrent,
                                                 seconds_per_step=step_s))
                print(f"{kind} parallelism {parallelism}: {time.perf_counter() - started:.0f} s", flush=True)
    rows, ratios = summarise(traces, args.fixed, step_s)
    machine = load.summary()
    fixed = f"regret_at_{args.fixed:g}"
    print(f"\nhartmann{args.dims}, cap {args.cap:g} trainings, {args.seeds} seeds, {args.step_ms:g} ms a step, lag "
          f"{args.lag}; load average (1 min) {machine['load_1min_min']:.2f}-{machine['load_1min_max']:.2f} "
          f"(median {machine['load_1min_median']:.2f}) on {machine['cpus']} CPUs")
    columns = (("budget_to_1pct", 1, "budget to 1%"), (fixed, 4, f"regret at {args.fixed:g}"),
               ("final_regret", 4, "final regret"), ("seconds_to_1pct", 1, "s to 1%"),
               ("seconds_per_training", 2, "s/training"), ("wall_s", 0, "wall s"),
               ("budget_to_top_rung", 1, "budget to top rung"))
    print(f"{'arm':22s} {'reached':>8s} " + " ".join(f"{title:>24s}" for _, _, title in columns)
          + f" {'slots busy':>10s} {'trials':>7s}")
    for row in rows:
        cells = [f"{show(row[f'{m}_median'], d)} [{show(row[f'{m}_q1'], d)}, {show(row[f'{m}_q3'], d)}]"
                 for m, d, _ in columns]
        print(f"{row['arm']:22s} {row['reached']:>3d}/{row['seeds']:<4d} " + " ".join(f"{c:>24s}" for c in cells)
              + f" {row['slot_use_median']:>10.2f} {row['trials_median']:>7g}")
    print(f"\n{'ordered / arrival (ratio of medians, 90% interval)':50s} " + " ".join(f"{m:>20s}" for m in
                                                                                   (*MEASURES, fixed)))
    for key, got in ratios.items():
        print(f"{key:50s} " + " ".join(f"{f'{show(g[0], 2)} [{show(g[1], 2)}, {show(g[2], 2)}]':>20s}"
                                       for g in got.values()))

    def clean(value: object) -> object:
        return None if isinstance(value, float) and not math.isfinite(value) else value

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_report(out / f"{args.name}.json", {
        "rows": [{k: clean(v) for k, v in row.items()} for row in rows],
        "ordered_over_arrival": {k: {m: [clean(round(v, 3)) for v in got] for m, got in by.items()}
                                 for k, by in ratios.items()},
        "machine": machine, "function": f"hartmann{args.dims}", "seeds": args.seeds, "cap": args.cap,
        "fixed_budget": args.fixed, "step_ms": args.step_ms, "lag": args.lag, "concurrent": args.concurrent,
        "n_trials": args.n_trials,
        "wall_s": round(time.perf_counter() - started, 1),
        "traces": [{"arm": t.arm, "seed": t.seed, "trials": t.trials, "wall_s": round(t.wall_s, 2),
                    "first_top": clean(t.first_top),
                    "points": [[round(b, 4), float(f"{r:.6g}"), round(s, 2)]
                               for (b, r), s in zip(t.points, t.seconds, strict=False)]} for t in traces],
    })
    plot(traces, args.cap, out / f"{args.name}.png", f"hartmann{args.dims} ({args.seeds} seeds, ordered vs arrival)")
    print(f"written: {out / f'{args.name}.json'}, {out / f'{args.name}.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
