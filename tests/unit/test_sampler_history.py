"""The sampler's bounded window keeps TPE's best trials and the most recent ones."""

from __future__ import annotations

import random

from workflows.payloads.messages import FinishedTrial
from workflows.sampler_history import sampler_window


def trials(n: int, seed: int = 0) -> list[FinishedTrial]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        complete = rng.random() < 0.2
        out.append(FinishedTrial(number=i, params={"x": rng.random()}, state="complete" if complete else "pruned",
                                 value=rng.random(), step=30 if complete else rng.choice([10, 20])))
    return out


def test_small_histories_pass_whole_in_number_order():
    history = trials(50)
    assert sampler_window(list(reversed(history)), 300, "minimize") == history


def test_window_holds_the_best_quarter_and_the_most_recent():
    history = trials(2000)
    window = sampler_window(history, 300, "minimize")
    assert len(window) == 300 and [t.number for t in window] == sorted(t.number for t in window)
    complete = sorted((t for t in history if t.state == "complete"), key=lambda t: t.value or 0.0)
    numbers = {t.number for t in window}
    assert {t.number for t in complete[:75]} <= numbers  # the best: complete ones, lowest value first
    best = {t.number for t in complete[:75]}
    recent = [n for n in range(1999, -1, -1) if n not in best][:225]
    assert numbers - best == set(recent)  # the others are the most recent


def test_maximize_keeps_the_highest_values():
    history = [FinishedTrial(number=i, params={}, state="complete", value=float(i % 7)) for i in range(1000)]
    window = sampler_window(history, 100, "maximize")
    assert sum(t.value == 6.0 for t in window) >= 25
    assert all(t.value == 6.0 for t in sorted(window, key=lambda t: t.number)[:25])
