"""The multi-fidelity peers (DEHB, SMAC3's Hyperband facade, Syne Tune's BOHB) on real training: the
real-training arm of issue 25 §1, run by `benchmarks.search_efficiency_real --peers-python ...`.

The peers live in their own venv (numpy 1.26, no torch); the training lives here. So each peer runs as a
child process of that venv (`python -m benchmarks.peers --pipe DIMS`, its ask/tell loop unchanged) and asks
this process for every evaluation over a pipe: a configuration in the unit cube and a step; `RealObjective`
maps it onto the sweep's search space (`unit_to_params`) and trains it with train-tune's own `fit`, as every
other arm of the benchmark does, and answers minus the validation accuracy there.

A configuration the peer asks again at a higher step resumes from its checkpoint, so what is trained is
what the resumed charge counts; DEHB and SMAC ask each (configuration, budget) as a fresh evaluation, so
their plain arm charges the whole step count (the charges of `benchmarks.peers.Charged`), Syne Tune's
trials continue and pay each step once.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.peers import FRESH

ALGORITHMS = ("dehb", "smac hyperband", "syne-tune bohb")
"""The peers run on real training by default (Syne Tune's four-bracket variant on request)."""


def unit_to_params(distributions: dict[str, Any], x: list[float]) -> dict[str, Any]:
    """One value per Optuna distribution from the unit cube, a coordinate each: log scale where the
    distribution is, steps and ints rounded, a categorical's choices as equal slices of [0, 1]."""
    import optuna

    params: dict[str, Any] = {}
    for (name, dist), coordinate in zip(distributions.items(), x, strict=True):
        u = min(max(float(coordinate), 0.0), 1.0)
        if isinstance(dist, optuna.distributions.CategoricalDistribution):
            params[name] = dist.choices[min(int(u * len(dist.choices)), len(dist.choices) - 1)]
            continue
        low, high = dist.low, dist.high
        value = math.exp(math.log(low) + u * (math.log(high) - math.log(low))) if dist.log else low + u * (high - low)
        if dist.step:
            value = low + round((value - low) / dist.step) * dist.step
        value = min(max(value, low), high)
        params[name] = int(round(value)) if isinstance(dist, optuna.distributions.IntDistribution) else value
    return params


class RealObjective:
    """Trains the peer's asks with `fit` and keeps its traces (`benchmarks.search_efficiency_real.Trace`,
    budget in full trainings of the top rung): one charged what was trained (`<arm> resumed` for the fresh
    peers, `<arm>` for Syne Tune) and, for a fresh peer, one charged every ask its whole step count. Each
    trace stops at `cap`; `more` is whether any has budget left."""

    def __init__(self, arm: str, sweep, snapshot, folder: Path, top: int, cap: float) -> None:
        from activities.suggest import distributions
        from benchmarks.search_efficiency_real import Trace

        self.sweep, self.snapshot, self.folder, self.top, self.cap = sweep, snapshot, folder, top, cap
        self.distributions = distributions(sweep.space)
        fresh = arm in FRESH
        self.trained = Trace(top)
        self.scratch = Trace(top) if fresh else None
        self.names = {"trained": f"{arm} resumed" if fresh else arm, "scratch": arm}
        self.reached: dict[str, tuple[int, Path | None, str]] = {}  # key -> (step, last checkpoint, folder)
        self.values: dict[tuple[str, int], float] = {}

    def traces(self) -> dict[str, Any]:
        found = {self.names["trained"]: self.trained}
        if self.scratch is not None:
            found[self.names["scratch"]] = self.scratch
        return found

    def more(self) -> bool:
        return any(t.spent / self.top < self.cap for t in self.traces().values())

    def evaluate(self, key: str, x: list[float], step: int) -> float:
        """The validation accuracy of configuration `x` at `step`, trained (or resumed) here."""
        from benchmarks.harness import fit_segment

        before, checkpoint, folder = self.reached.get(key, (0, None, ""))
        if (key, step) in self.values:
            value, trained = self.values[(key, step)], 0
        else:
            if step < before or not folder:  # a lower step than its checkpoint holds: train afresh
                before, checkpoint, folder = 0, None, str(self.folder / f"trial{len(self.reached)}-{len(self.values)}")
            result = fit_segment(self.sweep, self.snapshot, unit_to_params(self.distributions, x), folder,
                                 stop_at=step, resume=checkpoint)
            value = result.final_score if result.final_score is not None else float("nan")
            trained = step - before
            self.values[(key, step)] = value
            if step >= self.reached.get(key, (0, None, ""))[0]:
                self.reached[key] = (step, Path(result.last_checkpoint), folder)
        for trace, cost in ((self.trained, trained), (self.scratch, step)):
            if trace is not None and trace.spent / self.top < self.cap:
                trace.result(step, value, cost)
                trace.trials = len(self.reached)
        return value


def peer_arm(python: str, arm: str, sweep, rungs: list[int], seed: int, cap: float, folder: Path) -> dict[str, Any]:
    """Peer `arm` on seed `seed` until `cap` full trainings, training here what it asks in the child process
    of the peers' `python`; returns its traces by arm name."""
    from benchmarks.harness import snapshot_of

    objective = RealObjective(arm, sweep, snapshot_of(sweep), folder, rungs[-1], cap)
    root = Path(__file__).resolve().parent.parent
    command = [python, "-m", "benchmarks.peers", "--pipe", str(len(objective.distributions)), "--algorithms", arm,
               "--seeds", str(seed), "--rungs", *map(str, rungs)]
    with tempfile.TemporaryFile("w+") as log:
        child = subprocess.Popen(command, cwd=root, env={**os.environ, "PYTHONPATH": str(root)}, text=True,
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log)
        assert child.stdin is not None and child.stdout is not None
        try:
            for line in child.stdout:
                ask = json.loads(line)
                accuracy = objective.evaluate(ask["key"], ask["x"], int(ask["step"]))
                reply = {"value": -accuracy if not math.isnan(accuracy) else 0.0, "more": objective.more()}
                child.stdin.write(json.dumps(reply) + "\n")
                child.stdin.flush()
        finally:
            child.stdin.close()
            code = child.wait()
        if code:
            log.seek(0)
            raise RuntimeError(f"peer {arm} (seed {seed}) failed, exit {code}: {log.read()[-2000:]}")
    return objective.traces()
