"""What a sweep started with `warm_start.from` knows of the earlier sweeps: their finished trials (the
sampler learns from them; `activities.suggest`) and, per rung, the digest of the config each trained, so a
trial of this sweep with the same config reuses the earlier checkpoint instead of training
(`workflows.checkpoint_reuse`). The runner reads them from the earlier sweeps' results before the sweep
starts (`runner.warm_start`).

No `from __future__ import annotations` (payload types; see workflows/payloads/messages.py).
"""

from dataclasses import dataclass, field
from typing import Any


@dataclass
class EarlierTrial:
    """One finished trial of an earlier sweep, its parameters a point of this sweep's search space."""

    sweep: str
    """The earlier sweep's workflow id."""
    number: int
    params: dict[str, Any] = field(default_factory=dict)
    state: str = "pruned"
    """What the sampler learns (a `FinishedTrial.state`): complete (it reached its sweep's top rung),
    pruned (stopped below it) or failed (no finite result)."""
    rung_steps: list[int] = field(default_factory=list)
    """The global step of each rung it reached."""
    metrics: list[float] = field(default_factory=list)
    """The monitored metric at each rung (parallel to `rung_steps`)."""
    rung_metrics: list[dict[str, float]] = field(default_factory=list)
    """Every validation metric at each rung (parallel to `rung_steps`; may be shorter for older records)."""
    digests: list[str] = field(default_factory=list)
    """Per rung, the digest of the config that trained it (`workflows.checkpoint_reuse.trial_digest`), under
    that rung's LR schedule; empty: its checkpoints are not reused (deleted, or another run root)."""
    checkpoint_dir: str = ""
    """Its checkpoint folder (inside the run root both sweeps share)."""


@dataclass
class WarmStart:
    """`warm_start.from`, resolved: the earlier sweeps and their trials that fit this sweep's space."""

    sweeps: list[str] = field(default_factory=list)
    trials: list[EarlierTrial] = field(default_factory=list)
    skipped: int = 0
    """Finished trials of the earlier sweeps left out: their parameters are not a point of this space."""
    reuse_checkpoints: bool = True
    """Reuse an earlier checkpoint where a trial's config matches one (`warm_start.reuse_checkpoints`)."""
    notes: list[str] = field(default_factory=list)
    """What the runner found (e.g. why an earlier sweep's checkpoints cannot be reused); in the decision."""
