"""Smoke mode of the real-training search-efficiency benchmark: its rank check (does the first rung rank
configurations as the top rung does?) on three real bert_tiny trainings of 2 and 4 steps. No figure is
asserted but that the check is whole; the Spearman helper itself is checked on known rankings."""

import json
import math

import pytest

from benchmarks import search_efficiency_real
from benchmarks.rung_signal import spearman


def test_search_efficiency_real_smoke_reports_the_first_rungs_rank_correlation(tmp_path):
    assert search_efficiency_real.main(["--smoke", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "search-efficiency-real-smoke.json").read_text())
    check = report["rank_check"]
    assert check["rungs"] == [2, 4] and len(check["trials"]) == 3 and check["n_val"] > 0
    for trial in check["trials"]:
        assert [sorted(m) for m in trial["metrics"]] == [["val_accuracy", "val_loss", "val_macro_f1"]] * 2, trial
    loss = check["metrics"]["val_loss"]
    rho = loss["spearman_first_top"]
    assert rho is None or -1.0 <= rho <= 1.0
    assert [r["steps"] for r in loss["rungs"]] == [2, 4] and all(r["spread"] >= 0 for r in loss["rungs"])


def test_spearman_ranks_ties_and_leaves_undefined_cases_undefined():
    assert spearman([1.0, 2.0, 3.0, 4.0], [10.0, 20.0, 30.0, 40.0]) == 1.0
    assert spearman([1.0, 2.0, 3.0, 4.0], [4.0, 3.0, 2.0, 1.0]) == -1.0
    # ties share their mean rank: ranks (1.5, 1.5, 3, 4) against (1, 2, 3, 4)
    assert math.isclose(spearman([0.2, 0.2, 0.5, 0.9], [0.1, 0.3, 0.6, 0.8]), 0.9486832980505138)
    assert spearman([0.2297] * 4, [0.1, 0.3, 0.6, 0.8]) is None  # every trial at chance: no ranking at all
    assert spearman([1.0, 2.0], [1.0, 2.0]) is None
    assert spearman([1.0, 2.0, math.nan, 3.0], [1.0, 2.0, 5.0, 3.0]) == 1.0  # a diverged trial left out


@pytest.mark.parametrize("argv, said", [
    (["--peers-python", "/nonexistent/python"], "--peers-python: /nonexistent/python"),
    (["--reuse", "/nonexistent/traces.json"], "--reuse /nonexistent/traces.json: no such file"),
    (["--rungs", "30,90,270", "--ladder-from", "45"], "--ladder-from 45: must be one of the rungs below the top"),
    (["--probe", "2"], "--probe 2: a rung probe needs at least 3 trials"),
])
def test_arguments_that_would_fail_after_hours_are_one_line_before_any_training(argv, said, tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        search_efficiency_real.main([*argv, "--rank-trials", "0", "--out", str(tmp_path)])
    assert stopped.value.code == 2 and said in capsys.readouterr().err
    assert not list(tmp_path.iterdir())  # nothing written
