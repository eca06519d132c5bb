"""The rung probe on real sweeps (`ladder.probe_trials`; `workflows.schedulers.rung_probe`): the real
LadderSweepWorkflow on the embedded server, the analytic stand-in training (a result depends on the trial's
parameters and budget only), each segment delayed by a random few milliseconds so results arrive in a new
order in every run.

The objective ranks configurations in reverse of the top at the first rung (3 steps) and as the top from
9 steps on (augmented Hartmann 3-D): the probe's six trials go up every rung unpruned, the ladder starts at
9 steps, and the same seeded sweep (TPE, ordered mode) decides the same at parallelism 2 and 4."""

from __future__ import annotations

import json
from dataclasses import asdict

from tests.support.standin_training import augmented_hartmann, space, sweep_environment
from tests.workflows.test_deterministic_sweep import Jittered
from workflows.ladder_sweep import LadderSweepWorkflow
from workflows.payloads.specs import SamplerSpec
from workflows.payloads.sweep import LadderSweepInput, LadderSweepResult

HARTMANN = augmented_hartmann(3)


def agrees_from_9(x: list[float], fidelity: float) -> float:
    """Reversed at 3 of 81 steps, augmented Hartmann 3-D from 9 steps on."""
    return -fidelity * HARTMANN(x, 1.0) if fidelity < 9 / 81 else HARTMANN(x, fidelity)


async def probe_sweep(tmp_path, parallelism: int) -> tuple[LadderSweepResult, str]:
    async with sweep_environment(tmp_path / f"p{parallelism}", Jittered(agrees_from_9, 3, seed=parallelism),
                                 parallelism=parallelism, max_steps=81) as env:
        sweep = LadderSweepInput(name="probe", base=env.base, space=space(3), n_trials=24, rungs=[3, 9, 27, 81],
                                 eta=3, kind="asha", sampler=SamplerSpec(name="tpe", seed=7, deterministic=True),
                                 parallelism=parallelism, keep_checkpoints=-1, probe_trials=6)
        workflow_id = f"probe-{env.base.queues.training}"
        handle = await env.client.start_workflow(
            LadderSweepWorkflow.run, sweep, id=workflow_id, task_queue=env.base.queues.orchestration,
            result_type=LadderSweepResult)
        result = await handle.result()
        probe = await handle.query(LadderSweepWorkflow.probe)  # what `status` reads for its plan's steps
        assert probe is not None and probe.first_rung == 1 and probe.agreement[0] == -1.0, probe
    return result, workflow_id


async def test_the_probe_trains_its_trials_unpruned_and_starts_the_ladder_where_rungs_agree(tmp_path):
    outcomes = []
    for parallelism in (2, 4):
        result, workflow_id = await probe_sweep(tmp_path, parallelism)
        trials = sorted(result.trials, key=lambda t: t.number)
        assert len(trials) == 24
        probe = [d for d in result.decisions if d.kind == "probe"]
        assert len(probe) == 1 and probe[0].rung == 1, probe
        assert "3 steps -1.00" in probe[0].detail and "the ladder starts at 9 steps" in probe[0].detail
        for t in trials[:6]:  # the probe: every rung, never stopped
            assert (t.bracket, t.rung_steps, t.state) == (0, [3, 9, 27, 81], "completed"), t
        for t in trials[6:]:  # the ladder: from 9 steps, with promotions and stops
            assert t.bracket == 1 and t.rung_steps[0] == 9, t
        assert any(d.kind == "stop" for d in result.decisions)
        assert [r.budget_steps for r in result.rungs if r.bracket == 1] == [9, 27, 81]
        decisions = sorted(json.dumps(asdict(d), sort_keys=True).replace(workflow_id, "<id>")
                           for d in result.decisions)
        outcomes.append(([t.params for t in trials], [t.metrics for t in trials], result.best_trial, decisions))
    assert outcomes[0] == outcomes[1]
