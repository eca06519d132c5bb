"""The records of a ladder sweep: one per trial and one per decision. The workflow queries and returns them,
and moves final trials (with the decisions made so far) out of its state into an archive of JSON files, so
a sweep of any length carries a bounded state (`activities.archive`).

No `from __future__ import annotations` (payload types; see workflows/payloads/messages.py).
"""

from dataclasses import dataclass, field
from typing import Any, Literal

TrialStateName = Literal["pending", "running", "waiting", "promoted", "stopped", "completed", "failed"]
"""The states a trial goes through (`TrialState.state`): live (pending, running, promoted), waiting for its
rung's decision, or final. The field itself stays a `str` on the wire: Temporal's converter refuses a value
outside a `Literal`, and a recorded history may carry a value older code wrote."""
DecisionKind = Literal["propose", "rung_result", "promote", "stop", "fail", "prune", "fallback", "pause", "resume",
                       "stop_sweep", "extend", "exploit", "exploit_skip",
                       "warm_start", "reuse", "reuse_skip", "probe"]
"""What a `Decision` records (`Decision.kind`; a `str` on the wire, as `TrialStateName`)."""
ProposalReason = Literal["startup_random", "tpe", "random", "qmc", "grid", "nsga2", "enqueued"]
"""How a trial's parameters were chosen (`TrialState.proposed_by`, `Suggestion.reason`; a `str` on the wire)."""


@dataclass
class PbtStep:
    """From global step `step` on, a population-based training member trains with `params`, continuing
    from member `source`'s checkpoint at that step (its own number at step 0: its own start)."""

    step: int = 0
    source: int = -1
    params: dict[str, Any] = field(default_factory=dict)
    how: dict[str, str] = field(default_factory=dict)
    """Per searched key, how explore set it ("resample", "x1.2", "keep"); empty at step 0."""
    source_score: float | None = None
    """The source's monitored metric at `step` (None at step 0)."""


@dataclass
class TrialState:
    number: int
    params: dict[str, Any]
    state: str = "pending"
    """A `TrialStateName`."""
    rung: int = -1
    """Highest rung finished (an index into its bracket's rungs)."""
    metrics: list[float] = field(default_factory=list)
    """Monitored validation metric at the end of each rung reached."""
    checkpoint: str = ""
    steps_trained: int = 0
    resumed_from_steps: list[int] = field(default_factory=list)
    error: str = ""
    bracket: int = 0
    target: int = 0
    """The rung index a pending/promoted/running trial trains towards."""
    rung_steps: list[int] = field(default_factory=list)
    """Global step at the end of each rung reached (parallel to `metrics`)."""
    checkpoint_dir: str = ""
    checkpoints_pruned: bool = False
    demoted: bool = False
    """Stopped by the ladder (not by a signal or a failure): its checkpoints may be pruned."""
    reason: str = ""
    """Why the trial ended where it did."""
    user_stopped: bool = False
    """Stopped by the user (`train-tune stop --trial`), not by the ladder (`demoted`) nor the sweep's end."""
    stopped_at_step: int = 0
    """The global step a user stop left a running segment at (between rungs: `steps_trained` and
    `checkpoint` count it, `metrics` has no result there); 0 otherwise."""
    schedule_steps: list[int] = field(default_factory=list)
    """The LR schedule's total steps of the segment that ended at each rung reached (parallel to `metrics`;
    0: not recorded). `extend --rungs` lengthens the schedule of the segments after it
    (`workflows.schedules`)."""
    rung_metrics: list[dict[str, float]] = field(default_factory=list)
    """Every validation metric at the end of each rung reached, by logged name (`val_loss`, `val_accuracy`,
    `val_macro_f1`; parallel to `metrics`, but shorter for rungs recorded before it existed)."""
    best_checkpoint: str = ""
    """The trial's best checkpoint by the monitored metric so far (`TrainResult.best_checkpoint`)."""
    proposed_by: str = ""
    """A `ProposalReason`: how the sampler chose `params` (empty: recorded before it was)."""
    segment_times: list[list[float]] = field(default_factory=list)
    """[start, end] of each train segment, in seconds since the epoch (workflow time, to the millisecond;
    end 0 while it runs); empty for segments recorded before it existed."""
    lineage: list[PbtStep] = field(default_factory=list)
    """A population-based training member's hyperparameter schedule and whose weights it carries: one entry
    per change, the first at step 0 (its own proposal); empty for the other ladder kinds."""
    pending_exploit: PbtStep | None = None
    """An exploit decided but not yet applied: the source's checkpoint at `step` is still to be copied into
    this member's folder (`copy_checkpoint`); then it is appended to `lineage` and cleared."""
    reused: list[str] = field(default_factory=list)
    """Rungs reached by reusing an earlier sweep's checkpoint instead of training (`warm_start`), each as
    `SWEEP_ID#TRIAL@STEP`; empty when every rung was trained."""


@dataclass
class Decision:
    kind: str
    """A `DecisionKind`."""
    trial: int
    rung: int
    detail: str


USER_STOP_DETAIL = "stop_trial signal"
"""How a user's stop (`stop --trial`) begins its `stop` decision's detail (sweeps recorded before
`stopped_by_user` existed say who stopped a trial only there)."""
STOP_SWEEP_REASON = "the sweep was stopped"
"""The reason of a trial the sweep's `stop` ended where it was."""
SWEEP_ENDED_REASON = "the sweep ended"
"""The reason of a trial the sweep's end (its plan done) left where it was."""


@dataclass
class ArchiveIndex:
    """Where a sweep's archived records are: `parts` files `part-000001.json`.. in `folder`, holding
    `trials` trial records (a trial re-opened and archived again appears twice; the later part wins)."""

    folder: str = ""
    parts: int = 0
    trials: int = 0


@dataclass
class ArchiveRequest:
    """One part of a sweep's archive: final trials leaving the sweep's state, and the decisions made since
    the previous part. Written to `{folder}/part-{index:06d}.json`; `folder` must lie inside `run_root`."""

    folder: str
    index: int
    run_root: str
    trials: list[TrialState] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)


@dataclass
class LoadRequest:
    """Parked trials to load back from a sweep's archive: `numbers[i]`'s record is in part `parts[i]`."""

    folder: str
    run_root: str
    numbers: list[int] = field(default_factory=list)
    parts: list[int] = field(default_factory=list)


@dataclass
class PbtMember:
    """What a population-based training decision knows of one member (`workflows.schedulers.pbt`)."""

    number: int = 0
    step: int = 0
    """The global step the member has trained to."""
    checkpoint_step: int = -1
    """The global step of its last checkpoint whose digests were verified (-1: none)."""
    score: float | None = None
    """The monitored metric at `step` (None: not reported there yet)."""
    params: dict[str, Any] = field(default_factory=dict)
    """Its current parameters, by config key."""


@dataclass
class PbtDecision:
    """One exploit/explore decision at a perturbation boundary: `target` continues from `source`'s verified
    checkpoint at `step` with `new_params`; or, with kind "skip", why a bottom member was left alone."""

    kind: str = "exploit"
    """"exploit" or "skip" (no top member had a verified checkpoint at its step)."""
    target: int = 0
    source: int = -1
    """The member whose checkpoint the target copies (-1 when skipped)."""
    step: int = 0
    """The source's checkpoint step: the global step the target continues from."""
    target_score: float | None = None
    source_score: float | None = None
    old_params: dict[str, Any] = field(default_factory=dict)
    """The target's parameters before the decision."""
    source_params: dict[str, Any] = field(default_factory=dict)
    """The source's parameters, which explore starts from."""
    new_params: dict[str, Any] = field(default_factory=dict)
    how: dict[str, str] = field(default_factory=dict)
    """Per searched key, how its value was explored: "resample", "x0.8" (a factor) or "keep"."""
    reason: str = ""
