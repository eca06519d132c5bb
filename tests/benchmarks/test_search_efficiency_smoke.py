"""Smoke mode of the search-efficiency benchmark: two seeds of every arm on augmented Hartmann 3-D (the
train-tune arms through the real sweep workflow on the embedded server). No figure is asserted, only that
each arm spent its budget and the report is whole."""

import json
import math

import pytest

from benchmarks import search_efficiency
from benchmarks.search_efficiency import Recommender, Trace, median_ratio_interval


def test_search_efficiency_smoke_runs_every_arm(tmp_path):
    assert search_efficiency.main(["--smoke", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "search-efficiency-smoke.json").read_text())
    arms = {row["arm"] for row in report["rows"]}
    assert arms == {"train-tune hyperband", "train-tune asha", "optuna sha", "optuna hyperband", "optuna none",
                    "random-full"}
    for row in report["rows"]:
        assert row["seeds"] == 2 and row["trials_median"] >= 2, row
    assert (tmp_path / "search-efficiency-smoke.png").read_bytes()[:4] == b"\x89PNG"
    assert {(t["arm"], t["seed"]) for t in report["traces"]} >= {("train-tune asha", 0), ("optuna sha", 1)}
    for key, measures in report["against_best_pruner"].items():
        assert key.startswith("hartmann3 train-tune ") and set(measures) == {"budget_to_1pct", "regret_at_4"}, key


def test_a_ladder_kind_or_first_rung_that_is_no_option_is_one_line(capsys):
    for bad in ("asha@4", "ashaa", "hyperband@81", "asha+probe2", "asha+probex", "asha+probe6/2", "asha+probe6/x"):
        with pytest.raises(SystemExit) as stop:
            search_efficiency.main(["--kinds", bad])
        assert stop.value.code == 2
        assert f"--kinds {bad}: valid are asha, hyperband or sha, each optionally @R with R one of 3, 9, 27" in (
            capsys.readouterr().err)


def test_the_recommendation_is_the_best_trial_at_the_highest_fidelity_and_its_regret_is_true():
    """A better value at a lower fidelity does not replace a trial at a higher one."""
    rec, trace = Recommender(lambda x, s: x[0] - 1.0, optimum=-1.0), Trace("arm", "f", 0)
    rec.result("a", [0.5], 3, -0.9, 3, trace)   # true regret (0.5 - 1 + 1) / 1 = 0.5
    rec.result("b", [0.2], 9, -0.1, 6, trace)   # higher fidelity wins although worse: regret 0.2
    rec.result("c", [0.0], 3, -5.0, 3, trace)   # lower fidelity: ignored
    assert [round(r, 6) for _, r in trace.points] == [0.5, 0.2, 0.2]
    assert [round(b * 81) for b, _ in trace.points] == [3, 9, 12]


def test_the_bootstrap_interval_tells_apart_only_what_the_seeds_can():
    same = [10.0, 12.0, 15.0, 18.0, 22.0, 25.0, 30.0, 9.0, 14.0, 20.0]
    ratio, low, high = median_ratio_interval(same, list(reversed(same)))
    assert ratio == 1.0 and low < 1.0 < high
    ratio, low, high = median_ratio_interval([v / 2 for v in same], same)
    assert ratio == 0.5 and low <= 0.5 <= high < 1.0
    # censored: most of the numerator's seeds never reached the target, so its median is inf
    ratio, low, high = median_ratio_interval([math.inf] * 8 + [5.0, 6.0], same)
    assert ratio == math.inf and low > 1.0
    assert median_ratio_interval([math.inf] * 3, [math.inf] * 3) == (1.0, 1.0, 1.0)


def test_optuna_arms_repeat_exactly():
    """HyperbandPruner's bracket draw hashes the study's name: an unnamed study gets a random one."""
    first, again = (search_efficiency.optuna_arm("hyperband", 3, seed=1, cap=8.0) for _ in range(2))
    assert first.points == again.points and first.trials == again.trials > 4


def test_against_the_best_pruner_compares_regret_where_neither_reached_the_target():
    def traces(arm: str, regret: float) -> list[Trace]:
        return [Trace(arm, "f", seed, [(1.0, regret * (1 + seed / 10)), (9.0, regret)], 3) for seed in range(5)]

    mine, sha, hyperband = traces("train-tune asha", 0.05), traces("optuna sha", 0.2), traces("optuna hyperband", 0.1)
    rows = search_efficiency.summarise(mine + sha + hyperband, cap=10.0, fixed=5.0, hit={})
    got = search_efficiency.against_best_pruner(mine + sha + hyperband, rows, 5.0)
    assert list(got) == ["f train-tune asha / optuna hyperband"]  # the lower regret, as no median reached 1%
    (key, measures), = got.items()
    assert measures["budget_to_1pct"] is None
    ratio, low, high = measures["regret_at_5"]
    assert abs(ratio - 0.5) < 1e-9 and low <= ratio <= high < 1.0
