"""How big a sweep's carried state grows, by the runner's estimate, so that a sweep too large for
Temporal's payload limit is refused before it starts (`runner.sweep_config.resolve_sweep`)."""

from __future__ import annotations

from typing import Any

from temporalio.converter import DataConverter

from workflows.ladder import PROMOTES_ALL, bracket_templates
from workflows.layout import checkpoint_root, trial_folder_name
from workflows.payloads.records import Decision, PbtStep, TrialState
from workflows.payloads.specs import TASK_METRICS, VALIDATION_METRICS
from workflows.payloads.sweep import DECISIONS_PER_TRIAL, HELD_LEADERS, BracketState, LadderSweepInput, RungArchive, SweepState
from workflows.schedulers.mo_ranking import ranks_by_pareto

STATE_LIMIT_BYTES = 1024 * 1024
"""The most a sweep's carried state (its continue-as-new input, its result) may take, by the runner's
estimate: half of Temporal's 2 MiB payload limit, leaving room for the estimate to be off."""
ARCHIVED_RESULT_BYTES = 30
"""An archived rung result the state keeps for ranking: a trial number and a float, encoded."""
PARKED_TRIAL_BYTES = 40
"""A parked trial's entry in the state (`Parked`): number, rung, result, archive part, target, encoded."""
QUEUED_TRIAL_BYTES = 8
BOUNDARY_BYTES = 40
"""A PBT boundary's entries in its bracket: its step, that it was decided, the LR schedule of its results."""
DECISION_BYTES = 300
"""A decision in the state, encoded (an exploit's detail names every explored key)."""
"""A promoted trial's number in ordered asha's queue of results to apply at a rung (`BracketState.promoted`)."""


def state_bytes(sweep: LadderSweepInput) -> tuple[int, int]:
    """(fixed, per trial): the bytes a sweep's carried state takes at most, by the runner's estimate, as
    fixed + per_trial * n_trials. Trial records leave the state for the archive once final, or parked
    while they wait (at most archive_batch of them wait to go, beside `parallelism` running and the best
    few); what grows with n_trials is what a running bracket must remember: an entry per parked trial
    (sha's trials all wait at the first rung for its decision, asha's up to 1 - 1/eta of them) and, for
    asha, the best archived results per rung it ranks against and the promoted trials whose results wait to be
    applied in promotion order; hyperband's brackets are small, and a
    finished one keeps only its counts. A sweep ranked by objective vectors or constraints keeps every
    trial's record (`workflows.schedulers.mo_ranking`): a record and its bracket entries per trial."""
    if ranks_by_pareto(sweep):
        fixed = 16 * 1024 + DECISION_BYTES * DECISIONS_PER_TRIAL * sweep.archive_batch
        return fixed, trial_state_bytes(sweep) + 2 * QUEUED_TRIAL_BYTES
    if sweep.kind == "pbt":  # every member's record stays, with an entry per boundary (`pbt_bytes`)
        base, per_boundary = pbt_bytes(sweep)
        return base + BOUNDARY_BYTES * len(sweep.rungs), (per_boundary - BOUNDARY_BYTES) * len(sweep.rungs) // sweep.n_trials
    held = sweep.archive_batch + sweep.parallelism + max(HELD_LEADERS, sweep.keep_checkpoints)
    fixed = 16 * 1024 + held * trial_state_bytes(sweep)  # 16 KiB: the input, the snapshot
    templates = bracket_templates(sweep.kind, sweep.rungs, sweep.eta, sweep.n_trials)
    if sweep.kind == "asha":
        return fixed, PARKED_TRIAL_BYTES + -(-(ARCHIVED_RESULT_BYTES + QUEUED_TRIAL_BYTES) * len(sweep.rungs) // sweep.eta)
    if sweep.kind == "sha" and len(sweep.rungs) > 1:
        return fixed, PARKED_TRIAL_BYTES
    # hyperband: a finished bracket keeps its rungs and counts, and brackets come round after round
    done = [BracketState(rungs=[10 ** 9] * len(rungs), size=size, decided=list(range(len(rungs))),
                         archived=[RungArchive(count=size)] * len(rungs), archived_trials=size)
            for rungs, size in templates]
    round_bytes = len(DataConverter.default.payload_converter.to_payloads([done])[0].data)
    if sweep.kind == "hyperband":
        return fixed, -(-round_bytes // sum(size for _, size in templates))
    return fixed + round_bytes, 0


def pbt_bytes(sweep: LadderSweepInput) -> tuple[int, int]:
    """A PBT sweep's state as (base, per boundary) bytes: the input and the decisions waiting for the next
    archive part (DECISIONS_PER_TRIAL x archive_batch at most), then per boundary each member's entries
    (`trial_state_bytes`) and the boundary's own (its step, that it was decided, its results' LR schedule)."""
    base = 16 * 1024 + DECISION_BYTES * DECISIONS_PER_TRIAL * sweep.archive_batch
    return base, -(-trial_state_bytes(sweep) * sweep.n_trials // len(sweep.rungs)) + BOUNDARY_BYTES


def pbt_boundaries(sweep: LadderSweepInput) -> int:
    """The most boundaries a PBT sweep of this population and space fits in the state's limit."""
    base, per_boundary = pbt_bytes(sweep)
    return (STATE_LIMIT_BYTES - base) // per_boundary


def trial_state_bytes(sweep: LadderSweepInput) -> int:
    """Bytes one trial adds, on average, to the sweep's carried state as Temporal's converter encodes it.
    Synthetic trials of the sweep's shape: one value per searched key, a checkpoint path, how it was
    proposed, and per rung reached a metric, step, resume step, wall times and two decisions; a share
    eta^-r of them reach rung r (all of them without a ladder). Measured as the difference between two
    such populations, divided by its size."""
    rungs = max(len(r) for r, _ in bracket_templates(sweep.kind, sweep.rungs, sweep.eta, 1))
    eta = 1 if sweep.kind in PROMOTES_ALL else sweep.eta
    unit = eta ** (rungs - 1)  # trials in one population: every rung's share is a whole number
    params: dict[str, Any] = {p.key: (max(p.choices, key=lambda c: len(repr(c))) if p.choices else 0.12345678901234567)
                              for p in sweep.space}
    folder = f"{checkpoint_root(sweep.base.run_root, sweep.name + '-0123456789abcdef')}/{trial_folder_name(10000)}"
    task = getattr(getattr(getattr(sweep.base, "dataset", None), "task", None), "name", "sequence_classification")
    measured = [*TASK_METRICS.get(task, VALIDATION_METRICS), *getattr(getattr(sweep.base, "trainer", None), "measure", [])]
    detail = "val_loss 0.1235 at step 99999 (resumed from 99999); top 999 of 9999 go on to 99999 steps"

    def state(n: int) -> SweepState:
        trials, decisions = [], []
        for i in range(n):
            reached = next(r for r in range(rungs, 0, -1) if i % eta ** (r - 1) == 0)  # eta^-(r-1) reach r rungs
            trials.append(TrialState(
                number=1000 + i, params=params, state="completed", rung=reached - 1, metrics=[0.12345678901234567] * reached,
                checkpoint=f"{folder}/step{99999999:08d}.ckpt", steps_trained=99999, resumed_from_steps=[99999] * reached,
                target=reached - 1, rung_steps=[99999] * reached, checkpoint_dir=folder, reason="reached the top rung",
                rung_metrics=[dict.fromkeys(measured, 0.1234567890123456)] * reached, best_checkpoint=folder + "/best",
                proposed_by="startup_random", segment_times=[[1799999999.123, 1799999999.123]] * reached,
                lineage=[PbtStep(step=99999, source=1000, params=params, how=dict.fromkeys(params, "x1.2"),
                                 source_score=0.12345678901234567)] * (reached if sweep.kind == "pbt" else 0)))
            if sweep.kind == "pbt":  # its decisions leave for the archive in parts, whatever its members do
                continue
            decisions += [Decision(kind="rung_result", trial=1000 + i, rung=r, detail=detail) for r in range(2 * reached)]
            decisions.append(Decision(kind="propose", trial=1000 + i, rung=-1,
                                      detail=" ".join(f"{k}={v}" for k, v in params.items()) + " (startup_random)"))
        return SweepState(trials=trials, decisions=decisions)

    def size(n: int) -> int:
        return len(DataConverter.default.payload_converter.to_payloads([state(n)])[0].data)

    return -(-(size(2 * unit) - size(unit)) // unit)

