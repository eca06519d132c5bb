"""A sweep's dataset snapshots: one per distinct tokenizer its trials can use, made once each at the start.

A sweep that searches no model tokenises with its base model's tokenizer (`SweepState.snapshot`). One that
searches `model` (`LadderSweepInput.models`) tokenises with its choices' tokenizers, in choice order: the first
one's snapshot is `SweepState.snapshot`, each other distinct tokenizer's goes into `SweepState.snapshots`
(behind `workflow.patched(PATCH)`), and a trial trains and is tested on the snapshot of its model's tokenizer.
Snapshots are content-addressed (`activities.snapshot`): two tokenizer folders with the same files share one.
"""

from __future__ import annotations

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.payloads.messages import DatasetSnapshot
    from workflows.payloads.specs import ModelSpec
    from workflows.payloads.sweep import LadderSweepInput, SweepState
    from workflows.search_params import apply_params
    from workflows.train_eval import make_snapshot

PATCH = "snapshot-per-tokenizer"
"""`workflow.patched` id of a snapshot per tokenizer of a model-searching sweep."""


def tokenizers(input: LadderSweepInput) -> list[str]:
    """The distinct tokenizers the sweep's trials use, the first one's snapshot being `SweepState.snapshot`."""
    models = list(input.models.values()) or [input.base.model]
    return list(dict.fromkeys(m.tokenizer for m in models))


async def make_snapshots(input: LadderSweepInput, state: SweepState) -> DatasetSnapshot:
    """Make the snapshots not made yet (a sweep resumed from a hand-off has them); returns the first."""
    base, first, *others = input.base, *tokenizers(input)
    if state.snapshot is None:
        state.snapshot = await make_snapshot(base.dataset, first, base.run_root, base.queues)
    if others and workflow.patched(PATCH):
        for tokenizer in others:
            if tokenizer not in state.snapshots:
                state.snapshots[tokenizer] = await make_snapshot(base.dataset, tokenizer, base.run_root, base.queues)
    return state.snapshot


def snapshot_for(state: SweepState, model: ModelSpec) -> DatasetSnapshot:
    """The snapshot tokenised by the model's tokenizer."""
    snapshot = state.snapshots.get(model.tokenizer, state.snapshot)
    assert snapshot is not None, "trials start after the snapshots are made"
    return snapshot


def best_snapshot(result: Any, input: LadderSweepInput, state: SweepState) -> DatasetSnapshot | None:
    """The snapshot of the result's best trial's model (for its test evaluation: `with_best_test`)."""
    best = next((t for t in result.trials if t.number == result.best_trial), None)
    if best is None or state.snapshot is None:
        return state.snapshot
    return snapshot_for(state, apply_params(input.base, best.params, input.models).model)
