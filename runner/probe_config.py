"""`ladder.probe_trials` and `ladder.probe_agreement` (the rung probe, `workflows.schedulers.rung_probe`),
checked before anything starts: each error names the key, its value and what is valid."""

from __future__ import annotations

from typing import Any

from workflows.payloads.errors import ConfigError
from workflows.payloads.sweep import LadderSweepInput
from workflows.schedulers.mo_ranking import ranks_by_pareto
from workflows.schedulers.rung_probe import MIN_TOPS, probe_budgets

PROBED_KINDS = ("sha", "asha", "hyperband")
"""Ladder kinds with rungs a probe can choose among."""
PROBE_KEYS = ("probe_trials", "probe_agreement")
"""The probe's `ladder.*` keys (a sweep's identity holds them only when the probe is on)."""


def resolve_probe(ladder: dict[str, Any], sweep: LadderSweepInput) -> None:
    """Set `sweep.probe_trials` and `sweep.probe_agreement` from `ladder`, or raise ConfigError."""
    trials, agreement = ladder["probe_trials"], float(ladder["probe_agreement"])
    if not -1 <= agreement <= 1:
        raise ConfigError(f"ladder.probe_agreement is {agreement:g}, but must be a rank correlation in [-1, 1]")
    if not trials:
        return
    if sweep.kind not in PROBED_KINDS:
        raise ConfigError(f"ladder.probe_trials is {trials}, but a {sweep.kind} ladder has no rungs to start from; "
                          f"use 0, or ladder {', '.join(PROBED_KINDS)}")
    if trials < MIN_TOPS:
        raise ConfigError(f"ladder.probe_trials is {trials}, but must be 0 (no probe) or >= {MIN_TOPS} (a rank "
                          f"correlation needs {MIN_TOPS} trials; 8 or more tell rungs apart)")
    if trials >= sweep.n_trials:
        raise ConfigError(f"ladder.probe_trials is {trials}, but must be below n_trials ({sweep.n_trials}): the "
                          f"probe's trials are the sweep's first, and the others run the ladder it chooses")
    rungs = probe_budgets(sweep)
    if len(rungs) < 2:
        raise ConfigError(f"ladder.probe_trials is {trials}, but the ladder has one rung ({rungs[0]:g} "
                          f"{sweep.unit}): there is no rung to choose; use 0 or more rungs")
    if ranks_by_pareto(sweep):
        raise ConfigError(f"ladder.probe_trials is {trials}, but this sweep ranks trials by objectives or "
                          f"constraints, and the probe compares one metric's ranks; use 0")
    sweep.probe_trials, sweep.probe_agreement = trials, agreement


def refuse_outside_sweep(plain: dict[str, Any], what: str) -> None:
    """A ConfigError when `plain` sets a rung probe but runs no sweep (`what`: what it runs instead)."""
    trials = (plain.get("ladder") or {}).get("probe_trials")
    if trials:
        raise ConfigError(f"ladder.probe_trials is {trials}, but a rung probe chooses where a sweep's ladder starts "
                          f"(ladder={'|'.join(PROBED_KINDS)}), not for {what}; unset it")
