"""The summary line under `status`'s tables (`runner.status_summary`): counts by state, steps trained of the
budget, an ETA from the rate, or why one is unknown."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from runner.resolve import resolve_run
from runner.status_summary import coordinator_summary, duration, planned_steps, sweep_summary
from tests.conftest import SMALL_RUN, compose_config
from workflows.payloads.records import TrialState
from workflows.payloads.runs import CoordinatorStatus, JobState
from workflows.payloads.specs import SamplerSpec
from workflows.payloads.sweep import LadderSweepInput

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def sweep(kind: str = "sha", unit: str = "steps") -> LadderSweepInput:
    base, _ = resolve_run(compose_config(*SMALL_RUN))
    return LadderSweepInput(name="s", base=base, space=[], n_trials=9, rungs=[10, 30, 90], eta=3, kind=kind,
                            sampler=SamplerSpec(name="random", seed=1), unit=unit)


def test_the_plan_s_steps_count_each_rung_s_survivors_from_the_rung_below():
    assert planned_steps(sweep()) == 9 * 10 + 3 * 20 + 1 * 60
    assert planned_steps(sweep(unit="epochs")) is None  # only the workflow knows an epoch's steps
    # no ladder, and population-based training: every trial (member) trains to the top
    assert planned_steps(sweep(kind="none")) == planned_steps(sweep(kind="pbt")) == 9 * 90


def test_a_rung_probe_plans_its_trials_to_the_top_and_the_rest_from_its_choice():
    probed = replace(sweep(), n_trials=12, probe_trials=3)
    assert planned_steps(probed) == 3 * 90 + 9 * 10 + 3 * 20 + 1 * 60  # while it runs: from the first rung
    assert planned_steps(probed, first_rung=1) == 3 * 90 + 9 * 30 + 3 * 60
    assert planned_steps(probed, first_rung=2) == 3 * 90 + 9 * 90  # no rung agreed: the rest unpruned
    assert "1,080 steps" in sweep_summary([], probed, NOW, NOW, first_rung=2)
    # the probe chose a rung `extend` added: counted as the configured top, for every kind
    assert planned_steps(probed, first_rung=3) == planned_steps(probed, first_rung=2)
    hyperband = replace(probed, kind="hyperband")
    assert planned_steps(hyperband, first_rung=3) == planned_steps(hyperband, first_rung=2) == 3 * 90 + 9 * 90
    assert sweep_summary([], probed, NOW, NOW).endswith(
        "; rung probe: trials 0-2 to the top first, then the ladder from the rung they choose")
    assert "rung probe" not in sweep_summary([], probed, NOW, NOW, first_rung=1)  # chosen: its decision line says it


def test_a_multirun_line_counts_jobs_steps_and_an_eta_from_its_running_jobs():
    status = CoordinatorStatus(name="m", parallelism=2, done=False, jobs=[
        JobState(index=0, overrides=[], workflow_id="m-job0", state="completed", step=500, max_steps=500),
        JobState(index=1, overrides=[], workflow_id="m-job1", state="running", step=250, max_steps=500,
                 started_at=(NOW - timedelta(seconds=100)).isoformat()),
        JobState(index=2, overrides=[], workflow_id="m-job2", state="pending", max_steps=500)])
    line = coordinator_summary(status, NOW - timedelta(hours=1), NOW)
    assert line == "3 jobs: 1 completed, 1 pending, 1 running; 750 of 1,500 steps trained (50%); ETA 5m at 2.5 steps/s"
    status.jobs[1] = replace(status.jobs[1], started_at="")  # no start time: the average since the run started
    assert "ETA 1h00m at 0.208 steps/s" in coordinator_summary(status, NOW - timedelta(hours=1), NOW)
    assert "ETA unknown (no training rate yet)" in coordinator_summary(status, None, NOW)
    for job in status.jobs:
        job.state, job.step = "completed", 500
    assert coordinator_summary(status, None, NOW) == "3 jobs: 3 completed; 1,500 of 1,500 steps trained (100%)"


def test_a_sweep_line_counts_trials_by_state_its_archive_and_its_running_segments():
    trials = [TrialState(number=n, params={}, state=state, steps_trained=steps, rung_steps=rungs)
              for n, (state, steps, rungs) in enumerate([("completed", 90, [10, 30, 90]), ("stopped", 10, [10]),
                                                         ("stopped", 30, [10, 30]), ("running", 10, [10])])]
    line = sweep_summary(trials, sweep(), NOW - timedelta(seconds=140), NOW, archived=2)
    assert line == ("9 trials: 3 not started, 2 archived, 2 stopped, 1 completed, 1 running; 140 of 210 steps "
                    "trained (66%); ETA 1m at 1 steps/s (archived trials' steps not counted)")
    running = sweep_summary(trials, sweep(), NOW - timedelta(seconds=140), NOW, progress={3: "step 24/30"})
    assert "154 of 210 steps trained (73%)" in running  # 14 steps past the rung trial 3 resumed from
    assert "budget unknown" in sweep_summary(trials, sweep(unit="epochs"), None, NOW)
    assert "ETA unknown" in sweep_summary([], sweep(), NOW, NOW)


def test_durations_read_as_people_write_them():
    assert [duration(s) for s in (45, 720, 3 * 3600 + 300, 2 * 86400 + 4 * 3600)] == ["45s", "12m", "3h05m", "2d04h"]
