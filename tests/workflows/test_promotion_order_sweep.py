"""An open-ended ordered asha sweep trains trials up its ladder while new trials keep arriving at rung 0
(`workflows.schedulers.asha_ordered`: rungs above the first apply their results in promotion order). Before that rule, no
trial went above rung 1 until every planned trial had reported at rung 0 (benchmarks/README.md, "Cost of
ordered decisions"). Training is the analytic stand-in of `tests.support.standin_training`."""

from __future__ import annotations

import asyncio

from tests.support.standin_training import AnalyticTraining, augmented_hartmann, space, sweep_environment
from workflows.ladder_sweep import LadderSweepWorkflow
from workflows.payloads.specs import SamplerSpec
from workflows.payloads.sweep import LadderSweepInput, LadderSweepResult

PLANNED = 300


async def test_an_open_ended_ordered_sweep_reaches_its_top_rung_long_before_rung_0_closes(tmp_path):
    top = asyncio.Event()
    training = AnalyticTraining(augmented_hartmann(3), 3, on_call=lambda call: call.stop_at >= 9 and top.set())
    async with sweep_environment(tmp_path, training, parallelism=2, max_steps=9) as env:
        sweep = LadderSweepInput(
            name="open", base=env.base, space=space(3), n_trials=PLANNED, rungs=[1, 3, 9], eta=3, kind="asha",
            sampler=SamplerSpec(name="random", seed=3, deterministic=True), parallelism=2, keep_checkpoints=-1)
        handle = await env.client.start_workflow(
            LadderSweepWorkflow.run, sweep, id=f"open-{env.base.queues.training}",
            task_queue=env.base.queues.orchestration)
        await asyncio.wait_for(top.wait(), timeout=300)
        await handle.signal(LadderSweepWorkflow.stop)
        result: LadderSweepResult = await handle.result()
    assert max(t.rung for t in result.trials) == 2
    assert len(result.trials) < PLANNED // 5  # rung 0 is far from closed: most planned trials never started
    assert any(d.kind == "promote" and d.rung == 1 for d in result.decisions)
