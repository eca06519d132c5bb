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
