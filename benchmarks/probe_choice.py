"""Which rung the rung probe (`ladder.probe_trials`, `workflows.schedulers.rung_probe`) starts a ladder at,
over many draws of its probe trials, on an analytic problem (tests/support/problems.py) whose values at each
rung are known exactly: the probe's own rule (`rung_probe.agreement`, `rung_probe.first_rung`) on K uniform
points' values at rungs 3/9/27/81 of 81 steps, for each K and agreement threshold asked.

    python -m benchmarks.probe_choice --problem crossing3 --trials 6 8 10 15 --agreement 0.5 0.7 --draws 2000

It prints, per (K, threshold), how often each rung is chosen: how often a probe of that size keeps a
misleading first rung, or starts later than it needs to. No training, no server: seconds.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from benchmarks.regret import RUNGS, TOP
from tests.support.problems import problem
from workflows.payloads.records import TrialState
from workflows.schedulers.rung_probe import agreement, first_rung


def choices(name: str, trials: int, threshold: float, draws: int, seed: int = 0) -> list[float]:
    """The share of `draws` probes of `trials` uniform points that start the ladder at each rung."""
    p, rng = problem(name), random.Random(seed)
    counts = [0] * len(RUNGS)
    for _ in range(draws):
        probe = [TrialState(number=n, params={}, metrics=[p.f(x, r / TOP) for r in RUNGS])
                 for n, x in enumerate([rng.random() for _ in range(p.dims)] for _ in range(trials))]
        rhos, tops = agreement(probe, len(RUNGS) - 1)
        counts[first_rung(rhos, tops, threshold)] += 1
    return [c / draws for c in counts]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problem", default="crossing3")
    parser.add_argument("--trials", type=int, nargs="+", default=[6, 8, 10, 15])
    parser.add_argument("--agreement", type=float, nargs="+", default=[0.5, 0.7])
    parser.add_argument("--draws", type=int, default=2000)
    parser.add_argument("--out", help="write the table as JSON here too")
    args = parser.parse_args(argv)
    if min(args.trials) < 3:
        parser.error(f"--trials {min(args.trials)}: a rung probe needs at least 3 trials")
    rows = []
    print(f"{args.problem}: rung the probe starts the ladder at, share of {args.draws} probes")
    print(f"{'K':>3} {'agreement':>9} " + " ".join(f"{f'{r} steps':>9}" for r in RUNGS))
    for trials in args.trials:
        for threshold in args.agreement:
            shares = choices(args.problem, trials, threshold, args.draws)
            rows.append({"trials": trials, "agreement": threshold, "shares": dict(zip(map(str, RUNGS), shares, strict=True))})
            print(f"{trials:>3} {threshold:>9g} " + " ".join(f"{s:>9.2f}" for s in shares))
    if args.out:
        Path(args.out).write_text(json.dumps({"problem": args.problem, "draws": args.draws, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
