"""What a sweep took from elsewhere, in a few lines for `status`, `results` and the end of a run: its
`warm_start` decision (the earlier sweeps the sampler learned from), the rungs it reached by reusing an
earlier checkpoint instead of training (and the steps that saved), its `enqueue:`d trials, and where its rung
probe (`ladder.probe_trials`) started the ladder."""

from __future__ import annotations

from workflows.payloads.records import Decision, TrialState


def saved_steps(trial: TrialState) -> int:
    """Steps `trial` did not train because its rungs' checkpoints were copied (`TrialState.reused`)."""
    reused = {int(entry.rsplit("@", 1)[1]) for entry in trial.reused}
    return sum(step - (trial.rung_steps[i - 1] if i else 0) for i, step in enumerate(trial.rung_steps) if step in reused)


def warm_lines(trials: list[TrialState], decisions: list[Decision]) -> list[str]:
    """The lines (none for a sweep that neither enqueued, warm-started nor probed its rungs)."""
    lines = [f"warm start: {d.detail}" for d in decisions if d.kind == "warm_start"]
    lines += [d.detail for d in decisions if d.kind == "probe"]
    reused = [t for t in trials if t.reused]
    if reused:
        lines.append(f"checkpoints reused: {sum(len(t.reused) for t in reused)} rungs of {len(reused)} trials "
                     f"({sum(saved_steps(t) for t in reused)} steps not trained again)")
    skipped = [d for d in decisions if d.kind == "reuse_skip"]
    if skipped:
        lines.append(f"trained instead of reusing: {len(skipped)} rungs (see the reuse_skip decisions)")
    enqueued = sorted(t.number for t in trials if t.proposed_by == "enqueued")
    if enqueued:
        lines.append(f"enqueued configs: trials {', '.join(map(str, enqueued))}")
    return lines
