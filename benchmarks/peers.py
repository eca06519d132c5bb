"""The multi-fidelity peers of the search-efficiency benchmark: DEHB, SMAC3's MultiFidelityFacade (Hyperband
intensifier) and Syne Tune's BOHB (ASHA with its KDE searcher), each driven by its own ask/tell interface on
the same objective code as every other arm (tests/support/problems.py) and recorded in the same currency
(benchmarks/regret.py: budget in full trainings of 81 steps, the regret of the recommendation after each
result). They need their own virtual environment (benchmarks/peers-requirements.txt: numpy 1.26 and
friends, kept out of train-tune's install); benchmarks/search_efficiency.py runs this module there as a
child process:

    /work/peers-venv/bin/python -m benchmarks.peers --problem hartmann3 --seeds 0 1 --cap 40 --out peers.json

Rungs 3/9/27/81 steps, eta 3 for every peer. What a result costs is what the algorithm asks for:
- `dehb`, `smac hyperband`: each (configuration, budget) is a fresh evaluation from step 0 (their
  interface has no resume: a configuration promoted from 9 to 27 steps is trained 27 steps again), so a
  result at budget b costs b steps. The `... resumed` arms are the same runs (same seed, same asks; the cost
  does not feed back into the peer) charged only b minus the highest budget that configuration already
  had, as if the objective resumed from a checkpoint: the peer's best case.
- `syne-tune bohb`, `syne-tune bohb hyperband` (4 brackets): a trial reports at 3, 9, 27 and 81 steps and
  continues where the scheduler says CONTINUE (stopping-type ASHA), so it pays each step once.
The recommendation is the same rule for every arm (Recommender): the best value among the results at the
highest fidelity reached so far.

Each arm drives an `Objective` (`evaluate`, `more`): the analytic charges above (`Charged`, `Continued`), or,
with `--pipe DIMS`, one in another process (`Piped`): `benchmarks.peers_real` asks the peers this way for
real bert_tiny trainings, which need train-tune's venv.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Protocol

from benchmarks.regret import RUNGS, TOP, Recommender, Trace
from tests.support.problems import Problem, problem


class Charged:
    """The objective of a peer that evaluates each budget from scratch (DEHB, SMAC), on an analytic problem:
    its results go to two recommenders, one charging a result its budget, the other (`resumed`) the budget
    minus what the same configuration already reached. The costs do not feed back into the peer, so one run
    gives both traces; each stops at `cap`."""

    def __init__(self, chosen: Problem, arm: str, seed: int, cap: float) -> None:
        self.f, self.cap = chosen.f, cap
        self.traces = Trace(arm, chosen.name, seed), Trace(f"{arm} resumed", chosen.name, seed)
        self.recs = Recommender(chosen.f, chosen.optimum), Recommender(chosen.f, chosen.optimum)
        self.reached: dict[object, int] = {}

    def evaluate(self, key: object, x: list[float], step: int) -> float:
        value, before = self.f(x, step / TOP), self.reached.get(key, 0)
        self.reached[key] = max(step, before)
        for rec, trace, cost in zip(self.recs, self.traces, (step, max(0, step - before)), strict=True):
            if rec.spent / TOP < self.cap:
                rec.result(key, x, step, value, cost, trace)
                trace.trials = len(self.reached)
        return value

    def more(self) -> bool:
        return any(rec.spent / TOP < self.cap for rec in self.recs)


class Continued:
    """The objective of a peer whose trials continue (Syne Tune's ASHA), on an analytic problem: a result at
    step s costs s minus the step the trial last reported; one trace, stopped at `cap`."""

    def __init__(self, chosen: Problem, arm: str, seed: int, cap: float) -> None:
        self.f, self.cap = chosen.f, cap
        self.trace, self.rec = Trace(arm, chosen.name, seed), Recommender(chosen.f, chosen.optimum)
        self.reached: dict[object, int] = {}

    def evaluate(self, key: object, x: list[float], step: int) -> float:
        value, before = self.f(x, step / TOP), self.reached.get(key, 0)
        self.reached[key] = step
        self.trace.trials = len(self.reached)
        self.rec.result(key, x, step, value, step - before, self.trace)
        return value

    def more(self) -> bool:
        return self.rec.spent / TOP < self.cap


class Objective(Protocol):
    """What a peer arm evaluates: the value to minimise of configuration `x` (in the unit cube) at `step`;
    `key` names the trial (the configuration itself for DEHB and SMAC, the trial for Syne Tune). `more` says
    whether budget is left."""

    def evaluate(self, key: object, x: list[float], step: int) -> float: ...

    def more(self) -> bool: ...


def dehb_arm(dims: int, seed: int, rungs: list[int], objective: Objective) -> None:
    from dehb import DEHB

    with tempfile.TemporaryDirectory(prefix="tt-dehb-") as out:
        # no ConfigSpace: DEHB searches the unit cube itself, which is every problem's domain
        dehb = DEHB(f=None, cs=None, dimensions=dims, configspace=False, min_fidelity=rungs[0],
                    max_fidelity=rungs[-1], eta=3, n_workers=1, seed=seed, output_path=out, log_level="ERROR")
        while objective.more():
            job = dehb.ask()
            x = [float(v) for v in job["config"]]
            value = objective.evaluate(tuple(x), x, int(round(job["fidelity"])))
            dehb.tell(job, {"fitness": value, "cost": float(job["fidelity"])})


def smac_arm(dims: int, seed: int, rungs: list[int], objective: Objective) -> None:
    from ConfigSpace import ConfigurationSpace, Float
    from smac import MultiFidelityFacade, Scenario
    from smac.runhistory.dataclasses import TrialValue

    space = ConfigurationSpace(seed=seed)
    space.add([Float(f"x{i}", (0.0, 1.0)) for i in range(dims)])
    with tempfile.TemporaryDirectory(prefix="tt-smac-") as out:
        scenario = Scenario(space, deterministic=True, n_trials=1_000_000, min_budget=rungs[0],
                            max_budget=rungs[-1], seed=seed, output_directory=Path(out), name=f"smac-{seed}")
        intensifier = MultiFidelityFacade.get_intensifier(scenario, eta=3)  # Hyperband
        smac = MultiFidelityFacade(scenario, target_function=lambda config, seed=0, budget=rungs[-1]: 0.0,
                                   intensifier=intensifier, overwrite=True, logging_level=40)
        while objective.more():
            info = smac.ask()
            x = [float(info.config[f"x{i}"]) for i in range(dims)]
            smac.tell(info, TrialValue(cost=objective.evaluate(tuple(x), x, int(round(info.budget)))))


def syne_tune_arm(dims: int, seed: int, rungs: list[int], objective: Objective, brackets: int) -> None:
    import datetime

    import numpy as np
    from syne_tune.backend.trial_status import Trial
    from syne_tune.config_space import uniform
    from syne_tune.optimizer.baselines import BOHB
    from syne_tune.optimizer.scheduler import SchedulerDecision

    np.random.seed(seed)  # ASHA draws a trial's bracket from numpy's global generator
    scheduler = BOHB({f"x{i}": uniform(0.0, 1.0) for i in range(dims)}, metric="value", time_attr="step",
                     max_t=rungs[-1], grace_period=rungs[0], reduction_factor=3, brackets=brackets, random_seed=seed)
    trials = 0
    while objective.more():
        suggestion = scheduler.suggest()
        trial = Trial(trial_id=trials, config=suggestion.config, creation_time=datetime.datetime.now())
        trials += 1
        scheduler.on_trial_add(trial)
        x = [float(suggestion.config[f"x{i}"]) for i in range(dims)]
        for step in rungs:  # reports at the rungs only: ASHA decides there
            result = {"step": step, "value": objective.evaluate(trial.trial_id, x, step)}
            if step == rungs[-1]:
                scheduler.on_trial_complete(trial, result)
            elif scheduler.on_trial_result(trial, result) == SchedulerDecision.STOP or not objective.more():
                break


ALGORITHMS = ("dehb", "smac hyperband", "syne-tune bohb", "syne-tune bohb hyperband")
"""What --algorithms takes; dehb and smac hyperband each give two arms (the plain and the `resumed` charge)."""


ARMS = ("dehb", "dehb resumed", "smac hyperband", "smac hyperband resumed", "syne-tune bohb",
        "syne-tune bohb hyperband")


def is_peer_arm(arm: str) -> bool:
    return arm in ARMS


FRESH = ("dehb", "smac hyperband")
"""The peers that ask each (configuration, budget) from scratch: they get a plain and a `resumed` arm."""


def run_algorithm(name: str, chosen: Problem, seed: int, cap: float) -> tuple[Trace, ...]:
    if name in FRESH:
        charged = Charged(chosen, name, seed, cap)
        (dehb_arm if name == "dehb" else smac_arm)(chosen.dims, seed, RUNGS, charged)
        return charged.traces
    continued = Continued(chosen, name, seed, cap)
    drive(name, chosen.dims, seed, RUNGS, continued)
    return (continued.trace,)


def drive(name: str, dims: int, seed: int, rungs: list[int], objective: Objective) -> None:
    """Run peer algorithm `name` on `objective` until it says no budget is left."""
    if name == "dehb":
        dehb_arm(dims, seed, rungs, objective)
    elif name == "smac hyperband":
        smac_arm(dims, seed, rungs, objective)
    else:
        syne_tune_arm(dims, seed, rungs, objective, 4 if name.endswith("hyperband") else 1)


def versions() -> dict[str, str]:
    from importlib.metadata import version

    return {name: version(name) for name in ("DEHB", "smac", "syne-tune", "ConfigSpace", "numpy")}


class Piped:
    """An objective in the parent process (`benchmarks.peers_real`: real training in train-tune's own venv),
    reached over this process's stdin and stdout: one JSON line out per evaluation (`key`, `x`, `step`), one
    line back (`value` to minimise, `more`: whether budget is left)."""

    def __init__(self, out, into) -> None:
        self.out, self.into, self.left = out, into, True

    def evaluate(self, key: object, x: list[float], step: int) -> float:
        self.out.write(json.dumps({"key": repr(key), "x": x, "step": step}) + "\n")
        self.out.flush()
        line = self.into.readline()
        if not line:  # the parent is gone: nothing left to evaluate for
            raise SystemExit(1)
        reply = json.loads(line)
        self.left = bool(reply["more"])
        return float(reply["value"])

    def more(self) -> bool:
        return self.left


def piped(name: str, dims: int, seed: int, rungs: list[int]) -> int:
    """`drive` peer `name` on the parent's objective; the peers' own prints go to stderr."""
    import os
    import sys

    out = os.fdopen(os.dup(1), "w")  # the protocol keeps the real stdout; anything printed lands on stderr
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    drive(name, dims, seed, rungs, Piped(out, sys.stdin))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problem")
    parser.add_argument("--seeds", type=int, nargs="+", required=True)
    parser.add_argument("--cap", type=float, help="budget per run, in full trainings")
    parser.add_argument("--algorithms", nargs="+", default=list(ALGORITHMS), choices=ALGORITHMS)
    parser.add_argument("--out", help="JSON file for the traces (stdout carries the peers' logs)")
    parser.add_argument("--pipe", type=int, metavar="DIMS",
                        help="drive the first algorithm on the first seed over stdin/stdout, in DIMS dimensions")
    parser.add_argument("--rungs", type=int, nargs="+", default=RUNGS, help="with --pipe: the rungs in steps")
    args = parser.parse_args(argv)
    if args.pipe:
        return piped(args.algorithms[0], args.pipe, args.seeds[0], args.rungs)
    if not (args.problem and args.cap and args.out):
        parser.error("--problem, --cap and --out are required without --pipe")
    chosen = problem(args.problem)
    traces: list[Trace] = []
    for name in args.algorithms:
        for seed in args.seeds:  # written after each seed: a run cut short keeps the seeds it finished
            traces += run_algorithm(name, chosen, seed, args.cap)
            Path(args.out).write_text(json.dumps({
                "versions": versions(),
                "traces": [{"arm": t.arm, "function": t.function, "seed": t.seed, "trials": t.trials,
                            "points": t.points} for t in traces]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


# --- the parent's side (train-tune's own environment): run this module in the peers' one ----------------
def install_hint() -> str:
    return ("python3 -m venv /work/peers-venv && /work/peers-venv/bin/pip install -r benchmarks/peers-requirements.txt, "
            "then pass --peers-python /work/peers-venv/bin/python (or set TT_PEERS_PYTHON)")


def peers_usable(python: str | None) -> str | None:
    """None if `python` can import every peer, else why not (one line)."""
    import subprocess

    if not python:
        return "no --peers-python given"
    try:
        done = subprocess.run([python, "-c", "import dehb, smac, syne_tune"], check=False, capture_output=True,
                              text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"{python}: {error}"
    return None if done.returncode == 0 else f"{python} cannot import the peers: {done.stderr.strip().splitlines()[-1]}"


def run_in_venv(python: str, problem_name: str, seeds: list[int], cap: float, jobs: int = 1,
                algorithms: tuple[str, ...] = ALGORITHMS) -> tuple[list[Trace], dict[str, str]]:
    """Every peer algorithm on `seeds` of the problem, in child processes of `python` (`jobs` at a time, the
    seeds split between them); returns their traces (seed order, then arm) and the peers' versions."""
    import os
    import subprocess

    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root)}
    chunks = [seeds[i::jobs] for i in range(jobs) if seeds[i::jobs]]
    with tempfile.TemporaryDirectory(prefix="tt-peers-") as folder:
        outs = [Path(folder) / f"peers-{i}.json" for i in range(len(chunks))]
        children = [subprocess.Popen([python, "-m", "benchmarks.peers", "--problem", problem_name, "--cap", str(cap),
                                      "--out", str(out), "--algorithms", *algorithms, "--seeds", *map(str, chunk)],
                                     cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                    for chunk, out in zip(chunks, outs, strict=True)]
        for child in children:
            _, err = child.communicate()
            if child.returncode:
                raise RuntimeError(f"peers on {problem_name} failed (exit {child.returncode}): {err[-2000:]}")
        reports = [json.loads(out.read_text()) for out in outs]
    traces = [trace_from_json(t) for report in reports for t in report["traces"]]
    return sorted(traces, key=lambda t: (t.arm, t.seed)), reports[0]["versions"]


def trace_from_json(t: dict) -> Trace:
    return Trace(t["arm"], t["function"], t["seed"], [(float(b), float(r)) for b, r in t["points"]], t["trials"])
