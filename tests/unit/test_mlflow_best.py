"""The sweep's best on MLflow's parent run: the best monitored metric among the trials that reached the
highest step, so a trial stopped at a low rung with a lucky early loss is never named best."""

from __future__ import annotations

from types import SimpleNamespace

from activities.engine.mlflow_tree import GLOBAL_STEP, best_trial


def trial(name: str, step: int, **metrics: float) -> SimpleNamespace:
    return SimpleNamespace(name=name, data=SimpleNamespace(tags={GLOBAL_STEP: str(step)}, metrics=metrics))


def test_the_best_is_among_the_trials_at_the_highest_step():
    trials = [trial("early", 10, val_loss=0.1), trial("a", 30, val_loss=0.5), trial("b", 30, val_loss=0.4)]
    best, top = best_trial(trials, "val_loss", "min")
    assert (best.name, top) == ("b", 30)
    best, _ = best_trial(trials, "val_loss", "max")
    assert best.name == "a"


def test_no_best_while_the_top_trials_have_no_metric():
    assert best_trial([trial("a", 30), trial("b", 10, val_loss=0.2)], "val_loss", "min") == (None, 30)
    assert best_trial([], "val_loss", "min") == (None, 0)
