"""`ladder=pbt` through the real LadderSweepWorkflow with real bert_tiny training: 4 members, boundaries at
10 and 20 steps, 30 in all. At each boundary the worst member copies the best one's checkpoint (digests
verified) and trains on from the source's step with explored parameters; the lineage, the decision log and
the steps trained say so, and the history replays."""

from __future__ import annotations

from pathlib import Path

from temporalio.worker import Replayer

from activities.engine.checkpoint_files import file_sha256, step_checkpoint_name
from runner.resolve import resolve_run
from runner.sweep_config import resolve_sweep
from runner.sweep_results import with_archive
from runner.worker import running_workers
from tests.conftest import SMALL_RUN, compose_config
from workflows.coordinator import CoordinatorWorkflow
from workflows.ladder_sweep import LadderSweepWorkflow
from workflows.payloads.sweep import LadderSweepResult
from workflows.train_eval import TrainEvalWorkflow

PBT = ("ladder=pbt", "search_space=lr_warmup", "sampler=random", "sampler.seed=3", "ladder.population=4",
       "ladder.perturbation_interval=10", "ladder.resample_probability=0.0", "trainer.monitor=val_loss",
       "trainer.monitor_mode=min", "direction=minimize", "trainer.keep_last_checkpoints=5")
"""The loss, not the accuracy: this short a training often ties on accuracy, and a tie copies nothing."""


async def test_a_population_exploits_and_explores_at_each_boundary(temporal_env, run_root, queues):
    base, plain = resolve_run(compose_config(*SMALL_RUN, *PBT, f"run_root={run_root}"))
    base.queues = queues
    sweep = resolve_sweep(base, plain)
    assert sweep.kind == "pbt" and sweep.n_trials == 4 and sweep.rungs == [10.0, 20.0, 30.0]
    client = temporal_env.client
    async with running_workers(client, queues, max_concurrent_training=2):
        handle = await client.start_workflow(LadderSweepWorkflow.run, sweep, id=f"pbt-{queues.training}",
                                             task_queue=queues.orchestration)
        result: LadderSweepResult = await handle.result()
        history = await handle.fetch_history()

    assert [t.state for t in result.trials] == ["completed"] * 4
    assert all(t.rung_steps == [10, 20, 30] for t in result.trials)
    assert result.total_steps == 4 * 30  # an exploit continues at the source's step: nothing is trained twice
    exploits = [d for d in result.decisions if d.kind == "exploit"]
    assert [d.rung for d in exploits] == [0, 1] and not [d for d in result.decisions if d.kind == "exploit_skip"]
    for d in exploits:  # the worst member at the boundary copies the best one
        at = {t.number: t.metrics[d.rung] for t in result.trials}
        target, source = d.trial, int(d.detail.split("copies member ")[1].split()[0])
        assert at[target] == max(at.values()) and at[source] == min(at.values())
    exploited = {d.trial for d in exploits}
    for t in result.trials:
        assert t.lineage[0].step == 0 and t.lineage[0].source == t.number and t.pending_exploit is None
        if t.number not in exploited:
            assert len(t.lineage) == 1 and t.resumed_from_steps == [0, 10, 20]
    for t in (t for t in result.trials if t.number in exploited):
        copies = t.lineage[1:]
        assert [s.step for s in copies] == [d.rung * 10 + 10 for d in exploits if d.trial == t.number]
        assert t.params == copies[-1].params  # it trains on with the explored parameters
        for step in copies:  # resample_probability 0: lr perturbed by a factor, the categorical warmup kept
            assert step.how == {"optim.lr": step.how["optim.lr"], "optim.warmup_ratio": "keep"}
            assert step.how["optim.lr"] in ("x0.8", "x1.2") and 1e-4 <= step.params["optim.lr"] <= 3e-3
        first = copies[0]
        mine = Path(t.checkpoint_dir) / step_checkpoint_name(first.step)
        theirs = Path(result.trials[first.source].checkpoint_dir) / step_checkpoint_name(first.step)
        assert file_sha256(mine) == file_sha256(theirs)  # the source's weights, optimiser and step, verified

    replay = await Replayer(workflows=[LadderSweepWorkflow, TrainEvalWorkflow, CoordinatorWorkflow]).replay_workflow(history)
    assert replay.replay_failure is None


async def test_a_population_continues_as_new_between_boundaries(temporal_env, run_root, queues):
    """A history limit far below the sweep's length: the population hands its state over (members,
    lineages, pending decisions) run after run and ends as one run would, with its decisions archived."""
    base, plain = resolve_run(compose_config(*SMALL_RUN, *PBT, f"run_root={run_root}", "ladder.archive_batch=10"))
    base.queues = queues
    sweep = resolve_sweep(base, plain)
    sweep.max_history_events = 20  # far below what the runner allows (200): a hand-off at every boundary
    client = temporal_env.client
    async with running_workers(client, queues, max_concurrent_training=2):
        handle = await client.start_workflow(LadderSweepWorkflow.run, sweep, id=f"pbt-can-{queues.training}",
                                             task_queue=queues.orchestration)
        ended: LadderSweepResult = await handle.result()

    result = with_archive(ended)  # final members left the state at the hand-offs, their decisions too
    assert ended.runs >= 3 and ended.archive.parts >= 1
    assert [d.kind for d in result.decisions].count("exploit") == 2
    assert [t.state for t in result.trials] == ["completed"] * 4 and result.total_steps == 4 * 30
    exploited = [t for t in result.trials if len(t.lineage) > 1]
    assert sum(len(t.lineage) - 1 for t in exploited) == 2 and all(t.pending_exploit is None for t in result.trials)
    for t in exploited:
        assert t.params == t.lineage[-1].params and {s.step for s in t.lineage[1:]} <= set(t.resumed_from_steps)
