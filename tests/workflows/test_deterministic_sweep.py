"""The same sweep decides the same at parallelism 1, 2 and 4 (`sampler.deterministic`, `workflows.ordered`).

Training is the analytic stand-in of `benchmarks.harness` (a segment's result depends on its trial's
parameters and budget only), delayed by a random few milliseconds per segment so that results arrive in a
different order in each run: only the decision logic is under test. Proposals (TPE past its startup
trials), rung metrics, promotions, the winner and the decision log (as a set: its order is the order
things happened in) must be identical.
"""

from __future__ import annotations

import asyncio
import json
import random
from dataclasses import asdict, dataclass, replace

import pytest
from temporalio import activity
from temporalio.worker import Replayer

from benchmarks.harness import AnalyticTraining, augmented_hartmann, space, sweep_environment
from workflows.ladder_sweep import LadderSweepInput, LadderSweepResult, LadderSweepWorkflow
from workflows.messages import TrainRequest, TrainResult
from workflows.specs import SamplerSpec


@dataclass
class Jittered(AnalyticTraining):
    """The analytic training, each segment finishing after a random 0-40 ms (a new order every run)."""

    seed: int = 0

    def activity(self):
        inner, rng = super().activity(), random.Random(self.seed)

        @activity.defn(name="train")
        async def train(request: TrainRequest) -> TrainResult:
            await asyncio.sleep(rng.random() * 0.04)
            return await inner(request)

        return train


def outcome(result: LadderSweepResult, workflow_id: str) -> dict:
    trials = sorted(result.trials, key=lambda t: t.number)
    decisions = sorted(json.dumps(asdict(d), sort_keys=True).replace(workflow_id, "<id>") for d in result.decisions)
    return {
        "proposals": [t.params for t in trials],
        "rung_metrics": [t.metrics for t in trials],
        "promotions": sorted((d.trial, d.rung) for d in result.decisions if d.kind == "promote"),
        "states": [(t.state, t.rung) for t in trials],
        "winner": result.best_trial,
        "decisions": decisions,
    }


@pytest.mark.parametrize("kind, sampler", [("asha", "tpe"), ("asha", "random"), ("hyperband", "tpe")])
async def test_the_same_sweep_decides_the_same_at_parallelism_1_2_and_4(tmp_path, kind, sampler):
    """tpe: proposals learn from the same trials; random (proposals never depend on results): asha's
    promotions alone. In arrival order (`deterministic=False`) both asha cases differ between the runs."""
    training = Jittered(augmented_hartmann(3), 3, seed=7)
    async with sweep_environment(tmp_path, training, parallelism=4, max_steps=9) as env:
        outcomes = []
        for parallelism in (1, 2, 4):
            sweep = LadderSweepInput(
                name="ordered", base=env.base, space=space(3), n_trials=16, rungs=[1, 3, 9], eta=3, kind=kind,
                sampler=SamplerSpec(name=sampler, seed=5, n_startup_trials=3, deterministic=True, lag=4),
                parallelism=parallelism, keep_checkpoints=-1)
            workflow_id = f"ordered-{kind}-{sampler}-p{parallelism}-{env.base.queues.training}"
            result = await env.client.execute_workflow(
                LadderSweepWorkflow.run, sweep, id=workflow_id, task_queue=env.base.queues.orchestration,
                result_type=LadderSweepResult)
            outcomes.append(outcome(result, workflow_id))
        # the recorded history of the busiest run replays (the waits and the ordered releases are deterministic)
        history = await env.client.get_workflow_handle(workflow_id).fetch_history()
        await Replayer(workflows=[LadderSweepWorkflow]).replay_workflow(history, raise_on_replay_failure=True)
    first = outcomes[0]
    assert len(first["proposals"]) == 16 and first["promotions"] and first["winner"] >= 0
    assert len({json.dumps(p, sort_keys=True) for p in first["proposals"]}) == 16
    for other in outcomes[1:]:
        for key in first:
            assert other[key] == first[key], key


@pytest.mark.xfail(strict=False, reason="open: 1 run in 4 decided differently (states and decision log; "
                   "archiving + continue-as-new at parallelism 4); see issue 19's ordered-mode notes")
async def test_archiving_and_continuing_as_new_at_parallelism_4_decide_as_keeping_all_at_1(tmp_path):
    """The archive and the hand-offs carry what ordered decisions read (each rung's frontier, parked trials'
    results, TPE's first-result window): an asha sweep archiving in batches of 5 at parallelism 4 decides
    as the same sweep keeping every trial at parallelism 1."""
    from runner.sweep import with_archive
    from tests.workflows.test_archive import run_sweep

    training = Jittered(augmented_hartmann(3), 3, seed=11)
    async with sweep_environment(tmp_path, training, parallelism=4, max_steps=9) as env:
        keep_all = LadderSweepInput(
            name="ordered", base=env.base, space=space(3), n_trials=30, rungs=[1, 3, 9], eta=3, kind="asha",
            sampler=SamplerSpec(name="tpe", seed=2, n_startup_trials=3, max_history=100, deterministic=True, lag=4),
            parallelism=1, keep_checkpoints=-1, max_history_events=100_000, archive_batch=0)
        archiving = replace(keep_all, parallelism=4, archive_batch=5, max_history_events=300)
        keep_id, arch_id = f"keep-{env.base.queues.training}", f"arch-{env.base.queues.training}"
        kept, _ = await run_sweep(env, keep_all, keep_id)
        archived, carried = await run_sweep(env, archiving, arch_id)
    assert archived.runs >= 2 and archived.archive.parts >= 3 and carried
    assert outcome(with_archive(archived), arch_id) == outcome(kept, keep_id)
