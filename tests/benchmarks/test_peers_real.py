"""The train-tune side of the peers on real training (benchmarks/peers_real.py): the unit cube onto the
search space, and what a peer's ask trains and is charged, on real bert_tiny trainings of 2 and 4 steps.
The peers' side of the pipe is tested in their venv (tests/benchmarks/test_peers.py)."""

import math

import optuna
import pytest

from benchmarks import peers_real, search_efficiency_real
from benchmarks.harness import snapshot_of


def test_the_unit_cube_maps_onto_each_distribution():
    dists = {"lr": optuna.distributions.FloatDistribution(1e-4, 3e-3, log=True),
             "warmup": optuna.distributions.CategoricalDistribution([0.0, 0.06, 0.1]),
             "layers": optuna.distributions.IntDistribution(2, 8, step=2),
             "dropout": optuna.distributions.FloatDistribution(0.0, 0.5)}
    low = peers_real.unit_to_params(dists, [0.0, 0.0, 0.0, 0.0])
    high = peers_real.unit_to_params(dists, [1.0, 1.0, 1.0, 1.0])
    assert low == {"lr": pytest.approx(1e-4), "warmup": 0.0, "layers": 2, "dropout": 0.0}
    assert high == {"lr": pytest.approx(3e-3), "warmup": 0.1, "layers": 8, "dropout": 0.5}
    middle = peers_real.unit_to_params(dists, [0.5, 0.5, 0.5, 0.5])
    assert middle["lr"] == pytest.approx(math.sqrt(1e-4 * 3e-3))  # log scale: the geometric mean
    assert middle["warmup"] == 0.06 and middle["layers"] in (4, 6) and middle["dropout"] == 0.25
    assert [peers_real.unit_to_params(dists, [0.0, u, 0.0, 0.0])["warmup"] for u in (0.33, 0.34, 0.66, 0.67)] \
        == [0.0, 0.06, 0.06, 0.1]
    assert peers_real.unit_to_params(dists, [1.2, -0.1, 0.0, 0.0])["lr"] == pytest.approx(3e-3)  # clipped
    assert all(isinstance(v, int) for v in (low["layers"], high["layers"], middle["layers"]))


def test_a_peer_ask_resumes_its_configuration_and_is_charged_both_ways(tmp_path, monkeypatch):
    monkeypatch.setattr(search_efficiency_real, "RUNGS", [2, 4])
    monkeypatch.setattr(search_efficiency_real, "TOP", 4)
    monkeypatch.setattr(search_efficiency_real, "DATA", search_efficiency_real.SMOKE_DATA)
    from runner.config_schema import register_configs

    register_configs()
    sweep = search_efficiency_real.resolved(tmp_path / "run", seed=0)
    snapshot = snapshot_of(sweep)
    # run as `python -m`, the module main() set up is __main__; the copy peers_real imports keeps TOP 90
    monkeypatch.setattr(search_efficiency_real, "TOP", 90)
    fresh = peers_real.RealObjective("dehb", sweep, snapshot, tmp_path / "dehb", top=4, cap=3.0)
    x = [0.9, 0.5]  # a high learning rate: it moves in 4 steps
    at2 = fresh.evaluate("a", x, 2)
    at4 = fresh.evaluate("a", x, 4)  # resumed from its 2-step checkpoint
    again = fresh.evaluate("a", x, 4)  # asked again: its value, nothing trained
    traces = fresh.traces()
    assert set(traces) == {"dehb", "dehb resumed"}
    assert [b * 4 for b, _ in traces["dehb resumed"].points] == [2, 4, 4]  # what was trained
    assert [b * 4 for b, _ in traces["dehb"].points] == [2, 6, 10]  # every ask from scratch
    assert again == at4 and not math.isnan(at2) and fresh.more()
    fresh.evaluate("b", [0.1, 0.0], 4)  # the last result that passes the plain charge's cap (12 steps) ...
    fresh.evaluate("b", [0.1, 0.0], 4)  # ... after which it records nothing more
    assert [b * 4 for b, _ in traces["dehb"].points] == [2, 6, 10, 14]
    assert [b * 4 for b, _ in traces["dehb resumed"].points] == [2, 4, 4, 8, 8] and traces["dehb resumed"].trials == 2
    assert fresh.more()  # the resumed charge has budget left
    continued = peers_real.RealObjective("syne-tune bohb", sweep, snapshot, tmp_path / "st", top=4, cap=3.0)
    scratch = continued.evaluate("0", x, 4)  # the same configuration trained to 4 in one go
    assert set(continued.traces()) == {"syne-tune bohb"}
    assert scratch == pytest.approx(at4, abs=1e-6)  # resuming at 2 steps changed nothing
