"""train-tune's own arm of the search-efficiency benchmarks: the real LadderSweepWorkflow on the embedded
server, `analytic_train` standing in for training (tests/support/standin_training.py), on BoTorch's augmented Hartmann
functions, one sweep per seed; and what every arm of those benchmarks records (`Trace`, `Recommender`).

A sweep is planned by `SweepPlan`: its seed, its parallelism and its decision mode (`sampler.deterministic`,
`sampler.lag`: workflows/schedulers/asha_ordered.py), so one server can run the ordered and the arrival-order mode of the
same seed side by side (benchmarks/ordered_cost.py). With `seconds_per_step` > 0 each segment also takes
that long per step (an asyncio sleep: no CPU), so wall time counts the training slots a mode leaves idle.
"""

from __future__ import annotations

import asyncio
import math
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.standin_training import HARTMANN_OPTIMUM, AnalyticTraining, augmented_hartmann, space, sweep_environment

RUNGS = [3, 9, 27, 81]
TOP = RUNGS[-1]
TARGET = 0.01


@dataclass
class Trace:
    """What one arm did on one seed: (budget in full trainings after the result, regret of the
    recommendation then) after every result, in order; for train-tune sweeps also the seconds since the
    sweep started at each result (`seconds`) and the sweep's wall time to its stop (`wall_s`)."""

    arm: str
    function: str
    seed: int
    points: list[tuple[float, float]] = field(default_factory=list)
    trials: int = 0
    seconds: list[float] = field(default_factory=list)
    wall_s: float = 0.0
    first_top: float = math.inf
    """Budget spent when a trial first reached the top rung (train-tune sweeps)."""


class Recommender:
    """Keeps the recommendation (best value among the trials at the highest fidelity reached) and its
    true regret as results arrive."""

    def __init__(self, f: Callable[[list[float], float], float], optimum: float) -> None:
        self.f, self.optimum = f, optimum
        self.reached: dict[object, tuple[int, float, list[float]]] = {}
        self.spent = 0
        self.best: tuple[int, float] | None = None  # (step, value) of the recommendation
        self.regret = 1.0

    def result(self, trial: object, x: list[float], step: int, value: float, cost: int, trace: Trace) -> None:
        self.spent += cost
        self.reached[trial] = (step, value, x)
        if self.best is None or (step, -value) > (self.best[0], -self.best[1]):
            self.best = (step, value)
            self.regret = (self.f(x, 1.0) - self.optimum) / (0.0 - self.optimum)
        trace.points.append((self.spent / TOP, self.regret))


@dataclass
class SweepPlan:
    """One sweep of an arm: recorded under `arm`, with this seed, parallelism and decision mode."""

    arm: str
    seed: int
    parallelism: int = 1
    deterministic: bool = True
    lag: int = 4
    n_trials: int = 0
    """0: trials without end (the sweep is stopped at the cap)."""


def hyperband_round_trials() -> int:
    from workflows.ladder import bracket_templates

    return sum(size for _, size in bracket_templates("hyperband", RUNGS, 3, 1))


def sweep_input(kind: str, dims: int, plan: SweepPlan, sweep_id: str, base: Any) -> Any:
    """The LadderSweepInput of one planned sweep: rungs 3/9/27/81, eta 3, TPE seeded by the plan's seed,
    the plan's parallelism and `sampler.deterministic` / `sampler.lag`; `plan.n_trials` trials, or without end."""
    from workflows.payloads.specs import SamplerSpec
    from workflows.payloads.sweep import LadderSweepInput

    n_trials = plan.n_trials or (50 * hyperband_round_trials() if kind == "hyperband" else 5000)
    sampler = SamplerSpec(name="tpe", seed=plan.seed, deterministic=plan.deterministic, lag=plan.lag)
    return LadderSweepInput(name=sweep_id, base=base, space=space(dims), sampler=sampler, n_trials=n_trials,
                            rungs=[float(r) for r in RUNGS], eta=3, kind=kind, parallelism=plan.parallelism,
                            keep_checkpoints=-1)


async def run_sweeps(kind: str, dims: int, plans: list[SweepPlan], cap: float, concurrent: int,
                     seconds_per_step: float = 0.0) -> list[Trace]:
    """The planned sweeps on one server, `concurrent` at a time in the plans' order; each stops (signal) once
    it has spent `cap` full trainings. Returns their traces in the plans' order."""
    from workflows.ladder_sweep import LadderSweepWorkflow

    f, name = augmented_hartmann(dims), f"hartmann{dims}"
    traces: dict[str, Trace] = {}
    recs: dict[str, Recommender] = {}
    stops: dict[str, asyncio.Event] = {}
    started: dict[str, float] = {}
    order: dict[str, int] = {}

    def observe(call) -> None:  # called by the training activity after each segment
        sweep = call.folder.split("/checkpoints/")[1].split("/")[0]
        rec, trace = recs[sweep], traces[sweep]
        rec.result(call.folder, call.x, call.stop_at, call.value, call.stop_at - call.resumed_from, trace)
        trace.seconds.append(time.perf_counter() - started[sweep])
        if call.stop_at >= TOP:
            trace.first_top = min(trace.first_top, rec.spent / TOP)
        if rec.spent / TOP >= cap:
            stops[sweep].set()

    training = AnalyticTraining(f, dims, on_call=observe, seconds_per_step=seconds_per_step)
    limit = asyncio.Semaphore(concurrent)
    slots = concurrent * max(plan.parallelism for plan in plans)
    with tempfile.TemporaryDirectory(prefix="tt-search-") as root:
        async with sweep_environment(Path(root), training, slots, max_steps=TOP) as env:
            async def one(index: int, plan: SweepPlan) -> None:
                async with limit:
                    sweep_id = f"search-{kind}-{name}-{index}-{plan.seed}-{env.base.queues.training}"
                    traces[sweep_id], order[sweep_id] = Trace(plan.arm, name, plan.seed), index
                    recs[sweep_id], stops[sweep_id] = Recommender(f, HARTMANN_OPTIMUM[dims]), asyncio.Event()
                    started[sweep_id] = time.perf_counter()
                    handle = await env.client.start_workflow(
                        LadderSweepWorkflow.run, sweep_input(kind, dims, plan, sweep_id, env.base), id=sweep_id,
                        task_queue=env.base.queues.orchestration)
                    finished = asyncio.ensure_future(handle.result())
                    await asyncio.wait([finished, asyncio.ensure_future(stops[sweep_id].wait())],
                                       return_when=asyncio.FIRST_COMPLETED)
                    traces[sweep_id].wall_s = time.perf_counter() - started[sweep_id]
                    if not finished.done():
                        await handle.signal(LadderSweepWorkflow.stop)
                    result = await finished
                    traces[sweep_id].trials = len(result.trials)
                    done = traces[sweep_id]
                    print(f"  {done.arm} seed {done.seed}: {len(done.points)} results, {done.trials} trials, "
                          f"{done.wall_s:.0f} s", flush=True)

            await asyncio.gather(*(one(i, plan) for i, plan in enumerate(plans)))
    return [traces[sweep] for sweep in sorted(traces, key=order.__getitem__)]


async def train_tune_arm(kind: str, dims: int, seeds: list[int], cap: float, concurrent: int,
                         parallelism: int = 1, deterministic: bool = True) -> list[Trace]:
    """One sweep per seed of `train-tune <kind>` (a plan per seed; see `run_sweeps`)."""
    plans = [SweepPlan(f"train-tune {kind}", seed, parallelism, deterministic) for seed in seeds]
    return await run_sweeps(kind, dims, plans, cap, concurrent)
