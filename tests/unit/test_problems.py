"""The analytic problems of the search benchmarks (tests/support/problems.py): their optima, and that the
crossing-curves problem's low fidelity misleads as documented while augmented Hartmann's does not."""

import random

import pytest

from tests.support.problems import HARTMANN3_ARGMIN, PROBLEMS, fidelity_rank_correlation, problem, spearman


@pytest.mark.parametrize("name", ["hartmann3", "crossing3"])
def test_the_full_fidelity_optimum_is_hartmann_3d(name):
    chosen = problem(name)
    assert chosen.f(list(HARTMANN3_ARGMIN), 1.0) == pytest.approx(-3.86278, abs=1e-5)
    assert chosen.optimum == -3.86278
    draw = random.Random(3)
    for _ in range(200):  # the optimum bounds every point
        assert chosen.f([draw.random() for _ in range(3)], 1.0) >= chosen.optimum - 1e-6


def test_crossing3_is_hartmann3_at_full_fidelity_and_differs_below():
    crossing, hartmann, draw = problem("crossing3"), problem("hartmann3"), random.Random(5)
    for _ in range(50):
        x = [draw.random() for _ in range(3)]
        assert crossing.f(x, 1.0) == pytest.approx(hartmann.f(x, 1.0), abs=1e-12)
    assert crossing.full == "hartmann3"


def test_crossing3_misleads_at_the_first_rung_and_hartmann_does_not():
    low = fidelity_rank_correlation("crossing3", 3 / 81)
    assert low < 0.5, low
    assert fidelity_rank_correlation("hartmann3", 3 / 81) > 0.9
    crossing, far = problem("crossing3"), [0.9, 0.1, 0.1]
    # at 3 steps a poor far corner looks better than the optimum; at 81 steps it is far worse
    assert crossing.f(far, 3 / 81) < crossing.f(list(HARTMANN3_ARGMIN), 3 / 81)
    assert crossing.f(far, 1.0) > crossing.f(list(HARTMANN3_ARGMIN), 1.0) + 3.0


def test_spearman_ranks():
    assert spearman([1.0, 2.0, 3.0], [10.0, 20.0, 30.0]) == pytest.approx(1.0)
    assert spearman([1.0, 2.0, 3.0], [3.0, 2.0, 1.0]) == pytest.approx(-1.0)


def test_an_unknown_problem_names_the_valid_ones():
    with pytest.raises(ValueError, match="problem='branin'.*hartmann3, hartmann6, crossing3"):
        problem("branin")
    assert set(PROBLEMS) == {"hartmann3", "hartmann6", "crossing3"}
