"""MLflow's run tree of a sweep or multirun, so the MLflow UI groups it: one parent run per sweep or
multirun (tag `train_tune.group`), one child run per trial or job (tag `train_tune.run`, nested through
`mlflow.parentRunId`), and each training segment's run (made by Lightning's `MLFlowLogger`) nested under its
trial's run. After each segment the trial's run gets the trial's result so far (its validation metrics at
its last step, `train_tune.best_checkpoint`), which after its last segment is its final result; the parent
gets the sweep's best: the best monitored metric among the trials that reached the highest step.

Temporal may retry a segment and several workers may train trials of one sweep at once, so the parent and
trial runs are looked up by their tags before they are made, under a file lock in the run root (workers
sharing a run root, and every worker of a SQLite store, take turns). Workers on other machines, sharing only
a tracking server, may still make twins at the same instant: whoever finds one keeps the oldest and deletes
its own.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from filelock import FileLock

from workflows.payloads.messages import TrainRequest, TrainResult

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

LOCK_FILE = ".mlflow-tree.lock"
"""In the run root: held while the tree is looked up, grown or given a result."""
GROUP, RUN, KIND = "train_tune.group", "train_tune.run", "train_tune.kind"
PARENT_TAG = "mlflow.parentRunId"
BEST_CHECKPOINT, GLOBAL_STEP = "train_tune.best_checkpoint", "train_tune.global_step"


def _lock(run_root: str) -> FileLock:
    return FileLock(str(Path(run_root) / LOCK_FILE), timeout=600)


def experiment_id(client: MlflowClient, name: str) -> str:
    """The experiment's id, made when missing (a concurrent maker wins; its experiment is used)."""
    found = client.get_experiment_by_name(name)
    if found is None:
        try:
            return client.create_experiment(name)
        except Exception:  # made meanwhile by another worker: read it back below
            found = client.get_experiment_by_name(name)
            if found is None:
                raise
    return found.experiment_id


def _find_or_make(client: MlflowClient, experiment: str, tags: dict[str, str], name: str, params: dict) -> str:
    """The oldest active run carrying `tags`, made (with `params`) when there is none."""
    query = " AND ".join(f"tags.`{key}` = '{value}'" for key, value in tags.items() if key != PARENT_TAG)

    def oldest() -> list:
        return client.search_runs([experiment], query, order_by=["attributes.start_time ASC", "attributes.run_id ASC"])

    found = oldest()
    if found:
        return found[0].info.run_id
    made = client.create_run(experiment, run_name=name, tags=tags).info.run_id
    for key, value in params.items():
        client.log_param(made, key, value)
    first = oldest()[0].info.run_id
    if first != made:  # a twin made at the same instant on another machine: keep the oldest
        client.delete_run(made)
    return first


def segment_parent(client: MlflowClient, experiment: str, group: str, run: str, request: TrainRequest,
                   params: dict) -> str:
    """The id of the trial's (or job's) run, under the group's parent run, both made when missing."""
    with _lock(request.run_root or str(Path(request.checkpoint_dir).parent)):
        parent = _find_or_make(client, experiment, {GROUP: group, KIND: "group"}, group, {})
        return _find_or_make(client, experiment, {GROUP: group, RUN: run, KIND: "trial", PARENT_TAG: parent}, run,
                             params)


def _all_runs(client: MlflowClient, experiment: str, query: str) -> list:
    """Every run matching `query`, page by page (a search returns at most 1,000 at a time)."""
    found: list = []
    token: str | None = None
    while True:
        page = client.search_runs([experiment], query, max_results=1000, page_token=token)
        found.extend(page)
        token = page.token
        if not token:
            return found


def best_trial(trials: list, monitor: str, mode: str) -> tuple[Any, int]:
    """(the best of `trials` by `monitor` among those at the highest step any reached, that step); the best
    is None while none of those has the metric."""
    top = max((int(t.data.tags.get(GLOBAL_STEP, 0)) for t in trials), default=0)
    scored = [t for t in trials if int(t.data.tags.get(GLOBAL_STEP, 0)) == top and monitor in t.data.metrics]
    pick = max if mode == "max" else min
    return (pick(scored, key=lambda t: t.data.metrics[monitor]) if scored else None), top


def record_result(client: MlflowClient, experiment: str, group: str, run: str, request: TrainRequest,
                  result: TrainResult) -> None:
    """Log the segment's result on its trial's run, and the group's best so far on the parent run."""
    metrics = {**result.val_metrics}
    if result.final_score is not None:
        metrics[result.monitor] = result.final_score
    with _lock(request.run_root or str(Path(request.checkpoint_dir).parent)):
        parent = _find_or_make(client, experiment, {GROUP: group, KIND: "group"}, group, {})
        trial = _find_or_make(client, experiment, {GROUP: group, RUN: run, KIND: "trial", PARENT_TAG: parent},
                              run, {})
        for key, value in metrics.items():
            client.log_metric(trial, key, value, step=result.global_step)
        client.set_tag(trial, BEST_CHECKPOINT, result.best_checkpoint)
        client.set_tag(trial, GLOBAL_STEP, str(result.global_step))
        client.set_terminated(trial)
        trials = _all_runs(client, experiment, f"tags.`{GROUP}` = '{group}' AND tags.`{KIND}` = 'trial'")
        best, top = best_trial(trials, result.monitor, request.trainer.monitor_mode)
        if best is not None:
            client.log_metric(parent, f"best_{result.monitor}", best.data.metrics[result.monitor], step=top)
            client.set_tag(parent, "train_tune.best_trial", best.data.tags[RUN])
            client.set_tag(parent, BEST_CHECKPOINT, best.data.tags.get(BEST_CHECKPOINT, ""))
        client.set_terminated(parent)
