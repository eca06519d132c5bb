"""The rung-order warning (`runner.rung_order`) on real sweeps: an asha sweep whose low rungs rank the
configurations in reverse of the top (a fast start that ends worst) is warned about, rung by rung; the same
sweep of augmented Hartmann 3-D, whose rungs all rank alike, is not. The analytic stand-in training, the real
LadderSweepWorkflow on the embedded server.

What it cannot see: `crossing3` (tests/support/problems.py), whose first rung ranks all points nearly
independently of the top (Spearman 0.24), ranks the few that survive it much like the top (0.57 in a
162-trial sweep, eta 3, measured 2026-12-04): the warning judges the trials that reached the top, not the
good ones a rung stopped."""

from __future__ import annotations

from runner.rung_order import misranking_rungs
from tests.support.standin_training import AnalyticTraining, augmented_hartmann, space, sweep_environment
from workflows.ladder_sweep import LadderSweepWorkflow
from workflows.payloads.specs import SamplerSpec
from workflows.payloads.sweep import LadderSweepInput, LadderSweepResult

HARTMANN = augmented_hartmann(3)


def fast_start_ends_worst(x: list[float], fidelity: float) -> float:
    """Hartmann 3-D at the top; below it, its negative scaled by the fidelity: every lower rung ranks in reverse."""
    return HARTMANN(x, 1.0) if fidelity >= 1.0 else -fidelity * HARTMANN(x, 1.0)


async def test_a_rung_ranking_in_reverse_of_the_top_is_named_and_agreeing_rungs_are_not(tmp_path):
    found = {}
    for name, objective in (("reversed", fast_start_ends_worst), ("hartmann3", HARTMANN)):
        async with sweep_environment(tmp_path / name, AnalyticTraining(objective, 3), parallelism=4,
                                     max_steps=81) as env:
            sweep = LadderSweepInput(name=name, base=env.base, space=space(3), n_trials=60, rungs=[3, 9, 27, 81],
                                     eta=2, kind="asha", sampler=SamplerSpec(name="random", seed=0), parallelism=4,
                                     keep_checkpoints=-1)
            result = await env.client.execute_workflow(
                LadderSweepWorkflow.run, sweep, id=f"order-{name}-{env.base.queues.training}",
                task_queue=env.base.queues.orchestration, result_type=LadderSweepResult)
        assert len([t for t in result.trials if len(t.metrics) == 4]) >= 5
        found[name] = misranking_rungs(result.trials, result.rungs)
    assert [(f.rung, f.steps, f.top_steps) for f in found["reversed"]] == [(0, 3, 81), (1, 9, 81), (2, 27, 81)]
    assert all(f.correlation < -0.9 and f.pairs >= 5 for f in found["reversed"]), found["reversed"]
    assert found["hartmann3"] == []
