"""The schedulers are pure: no module of workflows/schedulers imports Temporal (so no `workflow.patched`
call can move into one), and none keeps module state beyond constants."""

from __future__ import annotations

import ast
from pathlib import Path

import workflows.schedulers

FOLDER = Path(workflows.schedulers.__file__).parent
MODULES = sorted(FOLDER.glob("*.py"))


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_no_scheduler_module_imports_temporal_or_the_workflows():
    assert len(MODULES) >= 8
    for path in MODULES:
        bad = {n for n in imported(path) if n.split(".")[0] in ("temporalio", "activities", "runner")
               or n in ("workflows.ladder_sweep", "workflows.train_eval", "workflows.coordinator")}
        assert not bad, f"{path.name} imports {sorted(bad)}"


def test_schedulers_hold_no_module_state():
    for path in MODULES:
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names = [t.id for t in targets if isinstance(t, ast.Name)]
                assert all(n.isupper() for n in names), f"{path.name}: module-level {names}"


def test_the_sweep_calls_its_activities_by_the_names_they_register_under():
    from temporalio import activity

    from activities.archive import archive_sweep_records, load_archived_trials
    from activities.copy_checkpoint import copy_checkpoint
    from activities.evaluate import evaluate, predict
    from activities.prune import prune_checkpoints
    from activities.snapshot import snapshot_dataset
    from activities.suggest import suggest
    from activities.train import train
    from workflows.payloads import activity_names

    functions = {"TRAIN": train, "SUGGEST": suggest, "PRUNE_CHECKPOINTS": prune_checkpoints,
                 "ARCHIVE_SWEEP_RECORDS": archive_sweep_records, "LOAD_ARCHIVED_TRIALS": load_archived_trials,
                 "EVALUATE": evaluate, "PREDICT": predict, "SNAPSHOT_DATASET": snapshot_dataset,
                 "COPY_CHECKPOINT": copy_checkpoint}
    for constant, function in functions.items():
        definition = activity._Definition.must_from_callable(function)
        assert getattr(activity_names, constant) == definition.name
