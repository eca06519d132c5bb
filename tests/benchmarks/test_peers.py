"""The peer arms of the search-efficiency benchmark (benchmarks/peers.py) on the real DEHB, SMAC3 and Syne Tune.
They live in their own venv (benchmarks/peers-requirements.txt): without them installed these tests skip.
Run them there (the root conftest needs hydra, which that venv lacks):
    PYTHONPATH=. /work/peers-venv/bin/python -m pytest -q --noconftest -p no:cacheprovider tests/benchmarks/test_peers.py"""

import pytest

pytest.importorskip("dehb")
pytest.importorskip("smac")
pytest.importorskip("syne_tune")

from benchmarks import peers
from benchmarks.regret import RUNGS, TOP
from tests.support.problems import problem


@pytest.mark.parametrize("name", peers.ALGORITHMS)
def test_each_peer_spends_its_budget_and_repeats_with_its_seed(name):
    chosen = problem("hartmann3")
    first, again = (peers.run_algorithm(name, chosen, seed=1, cap=4.0) for _ in range(2))
    for trace, same in zip(first, again, strict=True):
        assert trace.points == same.points and trace.function == "hartmann3"
        budgets = [b for b, _ in trace.points]
        assert budgets == sorted(budgets) and 4.0 <= budgets[-1] < 4.0 + 1.0 + 1e-9
        assert all(0.0 <= r <= 1.0 for _, r in trace.points) and trace.trials >= 2
        # each result costs at most a full training and at least the first rung (or a resumed difference)
        steps = [round(b * TOP) for b in budgets]
        assert all(0 <= later - earlier <= TOP for earlier, later in zip([0, *steps], steps, strict=False))
    if len(first) == 2:  # the from-scratch charge never spends less than the resumed one per result
        scratch, resumed = first
        assert scratch.arm + " resumed" == resumed.arm
        for (b1, _), (b2, _) in zip(scratch.points, resumed.points, strict=False):
            assert b1 >= b2 - 1e-9
    assert RUNGS == [3, 9, 27, 81]


@pytest.mark.parametrize("name", ["dehb", "syne-tune bohb"])
def test_a_piped_peer_asks_what_it_asks_in_process(name):
    """`benchmarks.peers --pipe` (how the peers ask train-tune's venv for real trainings): answered here by
    the same analytic objective, the child's asks give the traces of the in-process run exactly."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    chosen, cap = problem("hartmann3"), 6.0
    objective = (peers.Charged if name == "dehb" else peers.Continued)(chosen, name, 1, cap)
    root = Path(peers.__file__).resolve().parent.parent
    child = subprocess.Popen([sys.executable, "-m", "benchmarks.peers", "--pipe", "3", "--algorithms", name,
                              "--seeds", "1", "--rungs", *map(str, RUNGS)], cwd=root, text=True,
                             env={**os.environ, "PYTHONPATH": str(root)}, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    asks = 0
    for line in child.stdout:
        ask = json.loads(line)
        value = objective.evaluate(ask["key"], ask["x"], ask["step"])
        child.stdin.write(json.dumps({"value": value, "more": objective.more()}) + "\n")
        child.stdin.flush()
        asks += 1
    child.stdin.close()
    assert child.wait() == 0 and asks > 3
    piped = objective.traces if name == "dehb" else (objective.trace,)
    in_process = peers.run_algorithm(name, chosen, seed=1, cap=cap)
    assert [t.points for t in piped] == [t.points for t in in_process]
    assert [t.trials for t in piped] == [t.trials for t in in_process]
