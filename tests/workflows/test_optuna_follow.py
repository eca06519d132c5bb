"""`results ID --optuna-storage PATH --follow`: while a real sweep runs (the real workflow, sampler and
archive; training is the analytic stand-in of `tests.support.standin_training`, a few seconds in all) its
study is written again as trials start, report rungs and end, in place (one study, never recreated), and
once it ends it holds every trial as the sweep's results do."""

from __future__ import annotations

import asyncio

import optuna
from rich.console import Console

import runner.optuna_results
from runner.optuna_results import follow_study, write_once
from runner.optuna_storage import open_storage, study_target
from runner.run_kinds import RUN_KINDS_BY_TYPE
from runner.sweep_results import with_archive
from tests.support.standin_training import AnalyticTraining, no_op, space, sweep_environment
from workflows.ladder_sweep import LadderSweepWorkflow
from workflows.payloads.specs import SamplerSpec
from workflows.payloads.sweep import LadderSweepInput, LadderSweepResult

OPTUNA_STATE = {"completed": "COMPLETE", "stopped": "PRUNED", "failed": "FAIL"}


async def test_follow_updates_the_study_while_the_sweep_runs_and_it_ends_as_the_sweep(tmp_path, monkeypatch):
    monkeypatch.setattr(runner.optuna_results, "FOLLOW_POLL_S", 0.2)
    shown = Console(width=400, record=True)
    monkeypatch.setattr(runner.optuna_results, "console", shown)
    target = study_target(str(tmp_path / "study.log"))
    training = AnalyticTraining(no_op, 1, seconds_per_step=0.05)  # a rung of 10 steps: half a second
    async with sweep_environment(tmp_path, training, parallelism=2, max_steps=30) as env:
        sweep = LadderSweepInput(name="follow", base=env.base, space=space(1), n_trials=6, rungs=[10, 30], eta=2,
                                 kind="asha", sampler=SamplerSpec(name="random", seed=5), parallelism=2,
                                 archive_batch=2)  # final trials leave the state: the study reads them back
        memo = {"config": {"direction": "minimize", "trainer": {"monitor": "val_loss"}}}
        handle = await env.client.start_workflow(LadderSweepWorkflow.run, sweep, id=f"follow-{env.base.queues.training}",
                                                 task_queue=env.base.queues.orchestration, memo=memo,
                                                 result_type=LadderSweepResult)
        source = await RUN_KINDS_BY_TYPE["LadderSweepWorkflow"].study(env.client, handle, memo)  # type: ignore[misc]
        await asyncio.wait_for(follow_study(handle, source, target), timeout=300)
        result = with_archive(await handle.result())
        write_once(target, source.content(await source.current(), "COMPLETED"))  # as `results` ends

    updates = [line for line in shown.export_text().splitlines() if line.startswith("optuna study")]
    assert len(updates) >= 4, updates  # written as the sweep went, not only at its end
    assert any("RUNNING" in line for line in updates[:-1]) and "RUNNING" not in updates[-1], updates
    storage = open_storage(target)
    assert [s.study_name for s in optuna.get_all_study_summaries(storage)] == [handle.id]
    assert storage.get_study_id_from_name(handle.id) == 0  # updated in place: never deleted and recreated
    study = optuna.load_study(study_name=handle.id, storage=storage)
    assert study.user_attrs["status"] == "COMPLETED"
    trials = study.get_trials()
    assert result.archive.parts >= 1 and len(trials) == len(result.trials) == 6
    for optuna_trial, record in zip(trials, sorted(result.trials, key=lambda t: t.number), strict=True):
        assert optuna_trial.number == record.number and optuna_trial.state.name == OPTUNA_STATE[record.state]
        assert optuna_trial.params == record.params
        assert list(optuna_trial.intermediate_values.values()) == record.metrics
        assert list(optuna_trial.intermediate_values) == record.rung_steps
