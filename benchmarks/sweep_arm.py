"""train-tune's own arm of the search-efficiency benchmarks: the real LadderSweepWorkflow on the embedded
server, `analytic_train` standing in for training (tests/support/standin_training.py), on the analytic
problems of tests/support/problems.py, one sweep per seed. What every arm records (`Trace`, `Recommender`)
is in benchmarks/regret.py.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.regret import RUNGS, TARGET, TOP, Recommender, Trace
from tests.support.problems import Problem, problem
from tests.support.standin_training import AnalyticTraining, space, sweep_environment
from workflows.payloads.sweep import PROBE_AGREEMENT

__all__ = ["RUNGS", "TARGET", "TOP", "Recommender", "Trace", "SweepPlan", "run_sweeps", "train_tune_arm"]

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
    first_rung: int = RUNGS[0]
    """The ladder's first rung: RUNGS from it on (a later first rung where the low fidelities mislead)."""
    probe: int = 0
    """`ladder.probe_trials`: the sweep measures where its ladder starts on this many first trials."""
    agreement: float = PROBE_AGREEMENT
    """`ladder.probe_agreement`."""

    @property
    def rungs(self) -> list[int]:
        return [r for r in RUNGS if r >= self.first_rung]


def hyperband_round_trials(rungs: list[int] = RUNGS) -> int:
    from workflows.ladder import bracket_templates

    return sum(size for _, size in bracket_templates("hyperband", rungs, 3, 1))


def parse_kind(spec: str) -> tuple[str, int, int, float]:
    """`asha`, `asha@9`, `asha+probe6` or `asha+probe8/0.7` (the ladder's kind; its first rung: RUNGS[0]
    unless given; the rung probe's trials and agreement, `ladder.probe_trials` and `ladder.probe_agreement`:
    0 and PROBE_AGREEMENT unless given)."""
    head, plus, probe = spec.partition("+probe")
    kind, _, first = head.partition("@")
    trials, _, agreement = probe.partition("/")
    try:
        threshold = float(agreement) if agreement else PROBE_AGREEMENT
    except ValueError:
        threshold = math.nan
    if kind not in ("asha", "hyperband", "sha") or first and first not in {str(r) for r in RUNGS[:-1]} or plus and (
            not trials.isdigit() or int(trials) < 3 or not -1 <= threshold <= 1):
        raise ValueError(f"{spec}: valid are asha, hyperband or sha, each optionally @R with R one of "
                         f"{', '.join(map(str, RUNGS[:-1]))} (the ladder's first rung) and +probeK[/A] with K >= 3 "
                         f"and A in [-1, 1] (ladder.probe_trials, ladder.probe_agreement)")
    return kind, int(first) if first else RUNGS[0], int(trials) if plus else 0, threshold


def sweep_input(kind: str, dims: int, plan: SweepPlan, sweep_id: str, base: Any) -> Any:
    """The LadderSweepInput of one planned sweep: rungs 3/9/27/81 (from `plan.first_rung`), eta 3, TPE seeded by the plan's seed,
    the plan's parallelism and `sampler.deterministic` / `sampler.lag`; `plan.n_trials` trials, or without end."""
    from workflows.payloads.specs import SamplerSpec
    from workflows.payloads.sweep import LadderSweepInput

    n_trials = plan.n_trials or (50 * hyperband_round_trials(plan.rungs) if kind == "hyperband" else 5000)
    sampler = SamplerSpec(name="tpe", seed=plan.seed, deterministic=plan.deterministic, lag=plan.lag)
    return LadderSweepInput(name=sweep_id, base=base, space=space(dims), sampler=sampler, n_trials=n_trials,
                            rungs=[float(r) for r in plan.rungs], eta=3, kind=kind, parallelism=plan.parallelism,
                            keep_checkpoints=-1, probe_trials=plan.probe,
                            probe_agreement=plan.agreement)


def as_problem(which: int | str) -> Problem:
    """A problem by name (tests/support/problems.py), or augmented Hartmann by its dimension."""
    return problem(f"hartmann{which}" if isinstance(which, int) else which)


async def run_sweeps(kind: str, which: int | str, plans: list[SweepPlan], cap: float, concurrent: int,
                     seconds_per_step: float = 0.0) -> list[Trace]:
    """The planned sweeps on one server, `concurrent` at a time in the plans' order, on problem `which` (a
    name, or augmented Hartmann's dimension); each stops (signal) once it has spent `cap` full trainings.
    Returns their traces in the plans' order."""
    from workflows.ladder_sweep import LadderSweepWorkflow

    chosen = as_problem(which)
    f, name, dims = chosen.f, chosen.name, chosen.dims
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
                    recs[sweep_id], stops[sweep_id] = Recommender(f, chosen.optimum), asyncio.Event()
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


async def train_tune_arm(spec: str, which: int | str, seeds: list[int], cap: float, concurrent: int,
                         parallelism: int = 1, deterministic: bool = True) -> list[Trace]:
    """One sweep per seed of `train-tune <spec>` (`parse_kind`; a plan per seed; see `run_sweeps`)."""
    kind, first, probe, agreement = parse_kind(spec)
    plans = [SweepPlan(f"train-tune {spec}", seed, parallelism, deterministic, first_rung=first, probe=probe,
                       agreement=agreement) for seed in seeds]
    return await run_sweeps(kind, which, plans, cap, concurrent)
