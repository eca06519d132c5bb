"""Replay the recorded histories against today's workflow code: a non-deterministic change fails here.

Refresh with `python -m tests.replay.record_histories` only for an intentional incompatible change.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from workflows.coordinator import CoordinatorWorkflow
from workflows.ladder_sweep import LadderSweepWorkflow
from workflows.train_eval import TrainEvalWorkflow

FOLDER = Path(__file__).parent / "histories"
INDEX = json.loads((FOLDER / "index.json").read_text())
HISTORIES = sorted(p for p in FOLDER.glob("*.json") if p.stem in INDEX)


def test_histories_are_recorded():
    names = {p.stem for p in HISTORIES}
    assert len(HISTORIES) == len(list(FOLDER.glob("*.json"))) - 1, "every history is in index.json"
    assert {"train_eval_single", "coordinator_cancel_and_failure", "coordinator_child_completed",
            "coordinator_child_cancelled", "coordinator_child_failed", "ladder_sweep_sha",
            "ladder_sweep_asha_run1", "ladder_sweep_asha_run2", "ladder_sweep_archive", "ladder_sweep_best_test",
            "ladder_sweep_ordered", "ladder_sweep_prune_batches", "ladder_sweep_hyperband",
            "ladder_sweep_prefetch_run1", "ladder_sweep_prefetch_run2", "ladder_sweep_probe_run1",
            "ladder_sweep_probe_run2"} <= names


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_replay(path: Path):
    history = WorkflowHistory.from_json(INDEX[path.stem], path.read_text())
    replayer = Replayer(workflows=[TrainEvalWorkflow, CoordinatorWorkflow, LadderSweepWorkflow])
    result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None
