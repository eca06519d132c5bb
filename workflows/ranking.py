"""The sweep's leaderboard order (pure; safe in workflow code): best first, NaN last, ties to the lower
trial number, so the order is deterministic."""

from __future__ import annotations

from workflows.sweep_records import TrialState


def leaderboard_order(trials: list[TrialState], direction: str) -> list[int]:
    """Trials with a result, best first: the higher the rung step reached the better, then the metric at
    it (NaN last), then the trial number."""
    sign = -1.0 if direction == "maximize" else 1.0
    scored = [t for t in trials if t.metrics and t.state != "failed"]

    def key(t: TrialState) -> tuple[int, bool, float, int]:
        value = t.metrics[-1]
        return (-t.rung_steps[-1], value != value, sign * (value if value == value else 0.0), t.number)

    return [t.number for t in sorted(scored, key=key)]
