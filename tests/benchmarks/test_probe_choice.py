"""benchmarks/probe_choice.py: the rung probe's own rule over many draws, at a size that runs in a second."""

from __future__ import annotations

import pytest

from benchmarks import probe_choice


def test_agreeing_rungs_start_at_the_first_and_a_stricter_threshold_never_starts_earlier():
    assert probe_choice.choices("hartmann3", trials=6, threshold=0.7, draws=50) == [1.0, 0.0, 0.0, 0.0]
    loose = probe_choice.choices("crossing3", trials=8, threshold=0.5, draws=300)
    strict = probe_choice.choices("crossing3", trials=8, threshold=0.7, draws=300)  # the same draws (seed 0)
    assert sum(loose) == pytest.approx(1.0) and sum(strict) == pytest.approx(1.0)
    assert strict[0] < loose[0] and loose[0] > 0.15  # crossing3's 3-step rung (true rho 0.24) often passes 0.5
    assert sum(strict[:2]) <= sum(loose[:2])


def test_a_probe_too_small_is_one_line(capsys):
    with pytest.raises(SystemExit) as stop:
        probe_choice.main(["--trials", "2"])
    assert stop.value.code == 2 and "--trials 2: a rung probe needs at least 3 trials" in capsys.readouterr().err
