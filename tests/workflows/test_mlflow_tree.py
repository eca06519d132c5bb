"""Real tiny sweeps and multiruns with `logger=mlflow`: one parent run for the sweep (or multirun), a nested
run per trial (or job) holding its params and final result, and each rung segment's run nested under its
trial's run, with per-step metrics; the parent holds the best. Two trials train at once, so both race to
make the parent run."""

from __future__ import annotations

import pytest

from runner.resolve import resolve_run
from runner.worker import running_workers
from tests.conftest import SMALL_RUN, compose_config
from workflows.ladder_sweep import LadderSweepWorkflow
from workflows.payloads.specs import ParamSpec, SamplerSpec
from workflows.payloads.sweep import LadderSweepInput, LadderSweepResult


async def test_sweep_is_a_parent_run_with_nested_trials_and_segments(temporal_env, tmp_path, queues):
    pytest.importorskip("mlflow")
    import mlflow

    run_root = tmp_path / "runs"
    base, _ = resolve_run(compose_config(*SMALL_RUN, f"run_root={run_root}", "trainer.checkpoint_every_n_steps=5",
                                         "trainer.val_every_n_steps=5", "logger=mlflow"))
    base.queues = queues
    sweep = LadderSweepInput(name="tracked", base=base, sampler=SamplerSpec(name="random", seed=3), n_trials=2,
                             rungs=[5, 10], eta=2, direction="minimize", parallelism=2,
                             space=[ParamSpec(key="optim.lr", type="float", low=1e-4, high=3e-3, log=True)])
    sweep_id = f"tracked-{queues.training}"
    async with running_workers(temporal_env.client, queues, max_concurrent_training=2):
        handle = await temporal_env.client.start_workflow(LadderSweepWorkflow.run, sweep, id=sweep_id,
                                                          task_queue=queues.orchestration)
        result: LadderSweepResult = await handle.result()

    mlflow.set_tracking_uri(f"sqlite:///{run_root / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=[sweep_id], output_format="list")
    by_kind: dict[str, list] = {}
    for r in runs:
        by_kind.setdefault(r.data.tags.get("train_tune.kind", ""), []).append(r)
    assert sorted(by_kind) == ["group", "segment", "trial"], [r.data.tags for r in runs]
    [parent] = by_kind["group"]
    assert parent.info.run_name == sweep_id and parent.data.tags["train_tune.group"] == sweep_id

    trials = {r.data.tags["train_tune.run"]: r for r in by_kind["trial"]}
    assert sorted(trials) == [f"{sweep_id}/trial0", f"{sweep_id}/trial1"]
    by_number = {t.number: t for t in result.trials}
    for name, trial_run in trials.items():
        state = by_number[int(name.rsplit("trial", 1)[1])]
        assert trial_run.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert float(trial_run.data.params["optim.lr"]) == pytest.approx(state.params["optim.lr"])
        assert trial_run.data.metrics["val_loss"] == pytest.approx(state.metrics[-1])  # its final result
        assert trial_run.data.tags["train_tune.global_step"] == str(5 * (state.rung + 1))
        assert trial_run.data.tags["train_tune.best_checkpoint"].startswith(str(run_root / "checkpoints" / name))

    segments = {r.info.run_name: r for r in by_kind["segment"]}
    promoted = f"{sweep_id}/trial{result.best_trial}"
    other = next(name for name in trials if name != promoted)
    assert sorted(segments) == sorted([f"{promoted}/to5-attempt1", f"{promoted}/to10-attempt1",
                                       f"{other}/to5-attempt1"])
    client = mlflow.MlflowClient()
    for name, segment in segments.items():
        assert segment.data.tags["mlflow.parentRunId"] == trials[name.rsplit("/", 1)[0]].info.run_id
        assert "optim.lr" in segment.data.params
        steps = [m.step for m in client.get_metric_history(segment.info.run_id, "train_loss")]
        assert steps, f"{name} logged no training loss"
        assert client.get_metric_history(segment.info.run_id, "val_loss")

    # the sweep's best on the parent: the trial that reached the top rung
    assert parent.data.tags["train_tune.best_trial"] == promoted
    assert parent.data.metrics["best_val_loss"] == pytest.approx(trials[promoted].data.metrics["val_loss"])
    assert parent.data.tags["train_tune.best_checkpoint"] == trials[promoted].data.tags["train_tune.best_checkpoint"]


async def test_multirun_is_a_parent_run_with_a_nested_run_per_job(temporal_env, tmp_path, queues):
    pytest.importorskip("mlflow")
    import mlflow

    from runner.coordinate import start_coordinator
    from tests.workflows.test_coordinator import jobs_for

    run_root = tmp_path / "runs"
    jobs = jobs_for(run_root, queues, ("seed=0",), ("seed=1",),
                    common=("trainer.max_steps=10", "trainer.checkpoint_every_n_steps=5", "trainer.val_every_n_steps=5",
                            "logger=mlflow", "predict_texts=[]"))
    async with running_workers(temporal_env.client, queues, max_concurrent_training=2):
        handle = await start_coordinator(temporal_env.client, "tracked", jobs, 2, queues, "")
        status = await handle.result()
    assert [j.state for j in status.jobs] == ["completed", "completed"]

    mlflow.set_tracking_uri(f"sqlite:///{run_root / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=[handle.id], output_format="list")
    [parent] = [r for r in runs if r.data.tags.get("train_tune.kind") == "group"]
    job_runs = {r.info.run_name: r for r in runs if r.data.tags.get("train_tune.kind") == "trial"}
    assert sorted(job_runs) == [f"{handle.id}-job0", f"{handle.id}-job1"]
    assert {r.data.tags["mlflow.parentRunId"] for r in job_runs.values()} == {parent.info.run_id}
    assert sorted(job_runs[f"{handle.id}-job{i}"].data.params["seed"] for i in (0, 1)) == ["0", "1"]
    segments = [r for r in runs if r.data.tags.get("train_tune.kind") == "segment"]
    assert sorted(r.info.run_name for r in segments) == [f"{handle.id}-job0/attempt1", f"{handle.id}-job1/attempt1"]
    for segment in segments:
        assert segment.data.tags["mlflow.parentRunId"] == job_runs[segment.data.tags["train_tune.run"]].info.run_id
        assert "val_loss" in segment.data.metrics
    best = min(job_runs.values(), key=lambda r: r.data.metrics["val_loss"])
    assert parent.data.tags["train_tune.best_trial"] == best.info.run_name
