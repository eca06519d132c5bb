"""A sweep that archives its final trials decides exactly as one that keeps them all.

The same sweep runs twice through the real LadderSweepWorkflow (analytic training, `tests.support.standin_training`):
once keeping every trial in its state, once archiving in batches of 5 and continuing as new every few
hundred events. With one segment at a time the order of events is fixed, so the two must agree on every
trial (the merged archive against the kept table) and every decision: promotions that rank against
archived results, TPE's window over archived trials, counts in the rung table, the best trial. And the
archiving one's carried state stays small however many trials it has run.
"""

from __future__ import annotations

import json
from dataclasses import asdict, replace

import pytest
from temporalio.api.enums.v1 import EventType

from runner.sweep_results import with_archive
from tests.support.standin_training import AnalyticTraining, augmented_hartmann, space, sweep_environment
from workflows.ladder_sweep import LadderSweepWorkflow
from workflows.payloads.specs import SamplerSpec
from workflows.payloads.sweep import FINAL_STATES, LadderSweepInput, LadderSweepResult

TRIALS = 45


async def run_sweep(env, sweep: LadderSweepInput, workflow_id: str) -> tuple[LadderSweepResult, list[bytes]]:
    """The result, and every continue-as-new input (the carried state) as encoded."""
    handle = await env.client.start_workflow(LadderSweepWorkflow.run, sweep, id=workflow_id,
                                             task_queue=sweep.base.queues.orchestration, result_type=LadderSweepResult)
    result = await handle.result()
    carried: list[bytes] = []
    first = (await env.client.get_workflow_handle(workflow_id).fetch_history()).events[0]
    run_id = first.workflow_execution_started_event_attributes.first_execution_run_id
    while run_id:
        history = await env.client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        run_id = ""
        for event in history.events:
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
                attributes = event.workflow_execution_continued_as_new_event_attributes
                carried.append(attributes.input.payloads[0].data)
                run_id = attributes.new_execution_run_id
    return result, carried


def comparable(result: LadderSweepResult, workflow_id: str) -> tuple[str, str]:
    """Trials and decisions as JSON with the workflow id (in checkpoint paths) and the wall times of the
    segments (when they ran is no decision) taken out."""
    def text(records) -> str:
        plain = [{k: v for k, v in asdict(r).items() if k != "segment_times"} for r in records]
        return json.dumps(plain, sort_keys=True).replace(workflow_id, "<id>")

    return text(result.trials), text(result.decisions)


@pytest.mark.parametrize("kind", ["asha", "sha", "hyperband"])
async def test_archiving_changes_no_decision_and_keeps_the_state_small(tmp_path, kind):
    training = AnalyticTraining(augmented_hartmann(3), 3)
    async with sweep_environment(tmp_path, training, parallelism=1, max_steps=9) as env:
        keep_all = LadderSweepInput(
            name="archive", base=env.base, space=space(3), n_trials=TRIALS, rungs=[1, 3, 9], eta=3, kind=kind,
            sampler=SamplerSpec(name="tpe", seed=3, n_startup_trials=5, max_history=12), parallelism=1,
            keep_checkpoints=1, max_history_events=100_000, archive_batch=0)
        archiving = replace(keep_all, archive_batch=5, max_history_events=300)
        kept, _ = await run_sweep(env, keep_all, f"keep-{kind}-{env.base.queues.training}")
        archived, carried = await run_sweep(env, archiving, f"arch-{kind}-{env.base.queues.training}")

    assert kept.runs == 1 and kept.archive.parts == 0 and len(kept.trials) == TRIALS
    assert archived.runs >= 3 and archived.archive.parts >= 5  # several hand-offs, many parts
    assert len(archived.trials) < 5 + 3 + 1  # the state: a batch, the best three, one running
    merged = with_archive(archived)
    assert comparable(merged, f"arch-{kind}-{env.base.queues.training}") == \
        comparable(kept, f"keep-{kind}-{env.base.queues.training}")
    assert merged.rungs == kept.rungs and merged.best_trial == kept.best_trial
    assert merged.total_steps == kept.total_steps
    # every hand-off carries only the trials later decisions need: none final but the best three
    states = [json.loads(data)["state"] for data in carried]
    assert all(sum(t["state"] in FINAL_STATES for t in state["trials"]) <= 3 for state in states)
    assert all(not state["decisions"] for state in states)
    if kind == "hyperband":  # small brackets: the state does not grow with the trials run
        assert max(map(len, carried)) < 16_000


async def test_a_parked_trial_can_be_stopped_and_the_runner_settles_its_record(tmp_path):
    """sha parks the trials waiting at the first rung for its decision; stop_trial reaches one of them (its
    record is archived), and the merged result shows it stopped by the signal, its checkpoints kept."""
    import asyncio

    training = AnalyticTraining(augmented_hartmann(3), 3)
    async with sweep_environment(tmp_path, training, parallelism=1, max_steps=9) as env:
        sweep = LadderSweepInput(
            name="park", base=env.base, space=space(3), n_trials=30, rungs=[1, 3, 9], eta=3, kind="sha",
            sampler=SamplerSpec(name="random", seed=1), parallelism=1, keep_checkpoints=1, archive_batch=5)
        handle = await env.client.start_workflow(LadderSweepWorkflow.run, sweep, id=f"park-{env.base.queues.training}",
                                                 task_queue=env.base.queues.orchestration,
                                                 result_type=LadderSweepResult)
        for _ in range(600):
            parked = await handle.query(LadderSweepWorkflow.parked)
            if parked:
                break
            await asyncio.sleep(0.05)
        await handle.signal(LadderSweepWorkflow.pause)
        parked = await handle.query(LadderSweepWorkflow.parked)
        victim = parked[0]
        await handle.signal(LadderSweepWorkflow.stop_trial, victim)
        await handle.signal(LadderSweepWorkflow.resume)
        result = with_archive(await handle.result())
    trials = {t.number: t for t in result.trials}
    assert len(trials) == 30 and all(t.state in FINAL_STATES for t in trials.values())
    stopped = trials[victim]
    assert (stopped.state, stopped.reason, stopped.demoted, stopped.checkpoints_pruned) == \
        ("stopped", "stop_trial signal", False, False)
    assert [d.kind for d in result.decisions if d.trial == victim][-1] == "stop"
    assert not any(c.folder.endswith(f"/trial{victim}") and c.resumed_from > 0 for c in training.calls)
    # the others the ladder stopped at the first rung lost their checkpoints (pruned) unless among the best
    demoted = [t for t in trials.values() if t.demoted]
    assert demoted and all(t.checkpoints_pruned for t in demoted if t.number != result.best_trial)
    assert sum(t.rung == 2 for t in trials.values()) >= 1 and result.rungs[0].reported == 30
