"""The same sweep decides the same at parallelism 1, 2 and 4 (`sampler.deterministic`, `workflows.schedulers.asha_ordered`).

Training is the analytic stand-in of `tests.support.standin_training` (a segment's result depends on its trial's
parameters and budget only), delayed by a random few milliseconds per segment so that results arrive in a
different order in each run: only the decision logic is under test. Proposals (TPE past its startup
trials), rung metrics, promotions, the winner and the decision log (as a set: its order is the order
things happened in) must be identical.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import subprocess
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import pytest
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.worker import Replayer

from tests.support.standin_training import AnalyticTraining, augmented_hartmann, space, sweep_environment
from workflows.ladder_sweep import LadderSweepWorkflow
from workflows.payloads.messages import TrainRequest, TrainResult
from workflows.payloads.specs import SamplerSpec
from workflows.payloads.sweep import LadderSweepInput, LadderSweepResult


@dataclass
class Jittered(AnalyticTraining):
    """The analytic training, each segment finishing after a random 0 to `most` s (a new order every run)."""

    seed: int = 0
    most: float = 0.04

    def activity(self):
        inner, rng = super().activity(), random.Random(self.seed)

        @activity.defn(name="train")
        async def train(request: TrainRequest) -> TrainResult:
            await asyncio.sleep(rng.random() * self.most)
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


async def test_archiving_and_continuing_as_new_at_parallelism_4_decide_as_keeping_all_at_1(tmp_path):
    """The archive and the hand-offs carry what ordered decisions read (each rung's frontier, parked trials'
    results, TPE's first-result window): an asha sweep archiving in batches of 5 at parallelism 4 decides
    as the same sweep keeping every trial at parallelism 1."""
    from runner.sweep_results import with_archive
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


KILL_AFTER = (8, 24)
"""The worker process is killed once the sweep has this many completed activities (trainings in flight die)."""


def without_resumes(result: dict) -> dict:
    """An outcome without where segments resumed from: a killed segment is redone by a fresh process, whose
    stand-in has no record of the steps before it (a real one resumes from its newest checkpoint); that is
    the kill's doing, not a decision."""
    return {**result, "decisions": sorted(re.sub(r"\(resumed from \d+\)", "(resumed)", d) for d in result["decisions"])}


async def completed_activities(handle) -> int:
    history = await handle.fetch_history()
    return sum(e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED for e in history.events)


@pytest.mark.timeout(900)  # a calm sweep, then one that waits for three worker processes to start
async def test_worker_kills_at_parallelism_4_change_no_decision(tmp_path):
    """The sweep of the first test at parallelism 4, its worker process (the workflow and the trainings)
    SIGKILLed twice and a fresh one started after each, decides as the calm sweep at parallelism 1:
    the same proposals, rung metrics, promotions, states, winner and decision log. The test process serves
    the light orchestration activities (a kill there would only wait out their timeouts)."""
    import concurrent.futures

    from temporalio.worker import Worker

    from runner.worker import ORCHESTRATION_ACTIVITIES
    from tests.workflows.test_resume import stop
    from workflows.payloads.specs import TaskQueues

    training = Jittered(augmented_hartmann(3), 3, seed=7)
    async with sweep_environment(tmp_path, training, parallelism=1, max_steps=9) as env:
        calm = LadderSweepInput(
            name="ordered", base=env.base, space=space(3), n_trials=16, rungs=[1, 3, 9], eta=3, kind="asha",
            sampler=SamplerSpec(name="tpe", seed=5, n_startup_trials=3, deterministic=True, lag=4),
            parallelism=1, keep_checkpoints=-1)
        calm_id = f"calm-{env.base.queues.training}"
        reference = await env.client.execute_workflow(LadderSweepWorkflow.run, calm, id=calm_id,
                                                      task_queue=env.base.queues.orchestration,
                                                      result_type=LadderSweepResult)
        queues = TaskQueues(training=f"kill-{env.base.queues.training}", orchestration=f"kill-{env.base.queues.orchestration}")
        base = replace(env.base, queues=queues, trainer=replace(env.base.trainer, heartbeat_timeout_s=3))
        sweep, kill_id = replace(calm, base=base, parallelism=4), f"killed-{env.base.queues.training}"
        address = env.client.service_client.config.target_host
        log = tmp_path / "worker.log"

        def start_worker(seed: int) -> subprocess.Popen:
            return subprocess.Popen(
                [sys.executable, "-m", "tests.workflows.jittered_worker", address, queues.orchestration,
                 queues.training, "4", str(seed)], stdout=log.open("ab"), stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, cwd=Path(__file__).resolve().parents[2])

        kills = 0
        with concurrent.futures.ThreadPoolExecutor(max_workers=4) as executor:
            async with Worker(env.client, task_queue=queues.orchestration, activities=ORCHESTRATION_ACTIVITIES,
                              activity_executor=executor, max_concurrent_activities=4):
                worker = start_worker(0)
                try:
                    handle = await env.client.start_workflow(LadderSweepWorkflow.run, sweep, id=kill_id,
                                                             task_queue=queues.orchestration,
                                                             result_type=LadderSweepResult)
                    result = asyncio.ensure_future(handle.result())
                    for threshold in KILL_AFTER:
                        while not result.done() and await completed_activities(handle) < threshold:
                            await asyncio.wait({result}, timeout=0.2)
                        if result.done():
                            break
                        worker.kill()
                        worker.wait(30)
                        kills += 1
                        worker = start_worker(kills)
                    killed: LadderSweepResult = await asyncio.wait_for(result, timeout=600)
                finally:
                    stop(worker)
        history = await handle.fetch_history()
    retried = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
               and e.activity_task_started_event_attributes.attempt > 1]
    assert kills == len(KILL_AFTER), f"the sweep ended after {kills} kills; kill earlier"
    print(f"kills {kills}; segments retried after a kill {len(retried)}")
    assert without_resumes(outcome(killed, kill_id)) == without_resumes(outcome(reference, calm_id))
