"""A sweep that archives its final trials decides exactly as one that keeps them all.

The same sweep runs twice through the real LadderSweepWorkflow (analytic training, `benchmarks.harness`):
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

from benchmarks.harness import AnalyticTraining, augmented_hartmann, space, sweep_environment
from runner.sweep import with_archive
from workflows.ladder_sweep import FINAL_STATES, LadderSweepInput, LadderSweepResult, LadderSweepWorkflow
from workflows.specs import SamplerSpec

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
    """Trials and decisions as JSON with the workflow id (in checkpoint paths) taken out."""
    def text(records) -> str:
        return json.dumps([asdict(r) for r in records], sort_keys=True).replace(workflow_id, "<id>")

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
