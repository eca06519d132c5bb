"""Honest accounting in a sweep's records and tables: who stopped a trial, what a user stop left of it,
which LR schedule each rung result was trained under, and whether the user stopped the sweep."""

from __future__ import annotations

import csv
import json

from rich.console import Console

from runner.report import write_report
from runner.sweep_accounting import MARK, settle_parked, state_text, stopped_by
from runner.sweep_results import write_sweep_files
from runner.sweep_view import leaderboard_table
from runner.sweep_watch import trial_table
from workflows.accounting import (
    MIXED,
    after_result,
    keep_partial,
    leaderboard_mixing,
    mixed_steps,
    note_schedule,
    schedule_id,
    stopped_short,
)
from workflows.payloads.messages import TrainResult
from workflows.payloads.records import Decision, TrialState
from workflows.payloads.sweep import BracketState, LadderSweepResult, SweepState


def trial(number: int, schedules: list[int], bracket: int = 0, **changes) -> TrialState:
    """A record with one result per schedule entry, at steps 10, 20, ..."""
    rungs = len(schedules)
    fields = dict(number=number, params={"optim.lr": 0.001 * (number + 1)}, state="completed", rung=rungs - 1,
                  metrics=[1.0 - 0.1 * number - 0.01 * r for r in range(rungs)],
                  rung_steps=[10 * (r + 1) for r in range(rungs)], schedule_steps=list(schedules), bracket=bracket,
                  steps_trained=10 * rungs, checkpoint=f"/runs/checkpoints/s/trial{number}/step{10 * rungs:08d}.ckpt")
    fields.update(changes)
    return TrialState(**fields)  # type: ignore[arg-type]


def result(trials: list[TrialState], stopped: bool = False) -> LadderSweepResult:
    return LadderSweepResult(trials=trials, decisions=[], best_trial=trials[0].number if trials else -1,
                             total_steps=sum(t.steps_trained for t in trials), stopped=stopped)


PLAIN = {"direction": "minimize", "experiment_name": "s",
         "trainer": {"monitor": "val_loss", "max_steps": 20, "val_every_n_steps": 10},
         "ladder": {"kind": "sha"}, "search_space": {"params": []}, "optim": {"lr": 0.001}}


def rendered(table) -> str:
    console = Console(width=250, record=True)
    console.print(table)
    return " ".join(console.export_text().split())  # a caption wraps at the table's width


def test_schedule_ids_and_the_steps_that_mix_them():
    extended, fresh, old = trial(0, [10, 20]), trial(1, [20, 20], bracket=1), trial(2, [], rung_steps=[10], metrics=[0.7])
    assert [schedule_id(extended, 0), schedule_id(extended, 1)] == ["10", "10>20"]
    assert schedule_id(fresh, 1) == "20" and schedule_id(old, 0) == ""  # not recorded: never counted as mixed
    assert mixed_steps([extended, fresh, old]) == {10: ["10", "20"], 20: ["10>20", "20"]}
    assert mixed_steps([extended, old]) == {}


def test_a_rung_that_starts_to_mix_schedules_is_logged_once_and_so_is_the_final_ranking():
    bracket = BracketState(rungs=[10, 20], size=4)
    state = SweepState()
    logged = []
    for number, schedule in ((0, 10), (1, 10), (2, 20), (3, 20)):  # asha after `extend --rungs`: one bracket grows
        t = trial(number, [], metrics=[0.5], rung_steps=[10], rung=0)
        logged.append(note_schedule(bracket, t, schedule, 10))
    assert logged[:2] == [None, None] and logged[3] is None
    assert logged[2] is not None and logged[2].kind == MIXED and logged[2].trial == 2
    assert "rung 0 (10 steps)" in logged[2].detail and "total steps 10, 20" in logged[2].detail
    after_result(state, trial(2, [20]), logged[2])
    assert state.decisions == [logged[2]]

    a, b = trial(0, [10, 20]), trial(1, [20, 20], bracket=1)
    decision = leaderboard_mixing([a, b], [0, 1])
    assert decision is not None and "step 20" in decision.detail and "10>20, 20" in decision.detail
    assert leaderboard_mixing([a], [0]) is None


def test_a_user_stop_keeps_what_the_segment_trained_or_its_last_step_result():
    stopped = TrainResult(best_checkpoint="b", last_checkpoint="/c/trial0/step00000037.ckpt", global_step=37,
                          resumed_from_step=20, attempt=1, best_score=0.4, monitor="val_loss", steps_this_attempt=17,
                          cancelled=True)
    assert stopped_short(stopped, 60)
    t = trial(0, [60, 60])  # two rungs (steps 10, 20) reached; stopped on its way to 60
    t.state = "running"
    keep_partial(t, stopped)
    assert (t.state, t.user_stopped, t.demoted, t.stopped_at_step) == ("stopped", True, False, 37)
    assert t.steps_trained == 20 + 17 and t.checkpoint == "/c/trial0/step00000037.ckpt" and len(t.metrics) == 2
    # the cancel landed after the segment's last step, with its validation: a rung result, then a stop
    late = TrainResult(best_checkpoint="b", last_checkpoint="l", global_step=60, resumed_from_step=20, attempt=1,
                       best_score=0.4, monitor="val_loss", steps_this_attempt=40, final_score=0.41, cancelled=True)
    assert not stopped_short(late, 60) and stopped_short(TrainResult(**{**late.__dict__, "final_score": None}), 60)
    state = SweepState(stop_requested=[1], stopped_by_user=[1])
    waiting = trial(1, [60], state="waiting")
    after_result(state, waiting, None)
    assert (waiting.state, waiting.user_stopped, waiting.metrics) == ("stopped", True, [0.9])
    done = trial(1, [60])  # reached the top rung: nothing left to stop
    after_result(state, done, None)
    assert done.state == "completed" and not done.user_stopped and state.stopped_by_user == []


def test_every_table_tells_demoted_user_stopped_and_the_sweeps_end_apart(tmp_path):
    demoted = trial(0, [20], state="stopped", demoted=True)
    user = trial(1, [20], state="stopped", user_stopped=True, stopped_at_step=17, steps_trained=17)
    ended = trial(2, [20], state="stopped", reason="the sweep was stopped")
    winner = trial(3, [20, 20])
    trials = [demoted, user, ended, winner]
    assert [stopped_by(t, False) for t in trials] == ["ladder", "user", "sweep_stop", ""]
    assert stopped_by(trial(4, [20], state="stopped", reason="the sweep ended"), False) == "sweep_end"
    assert state_text(user, False) == "stopped (stopped by the user at step 17)"
    text = rendered(trial_table(trials, stopped=True))
    assert "stopped (demoted by the ladder)" in text and "stopped (stopped by the user at step 17)" in text
    assert "stopped (sweep stopped)" in text
    board = rendered(leaderboard_table(result(trials, stopped=True), "minimize", "val_loss"))
    assert "stopped (demoted by the ladder)" in board and "stopped (stopped by the user at step 17)" in board

    swept = result(trials, stopped=True)
    write_sweep_files(tmp_path, "s-sha-1", swept, PLAIN)
    saved = json.loads((tmp_path / "sweep.json").read_text())
    assert saved["status"] == "stopped" and saved["stopped"] is True
    assert [t["user_stopped"] for t in saved["trials"]] == [False, True, False, False]
    rows = {row["trial"]: row for row in csv.DictReader((tmp_path / "leaderboard.csv").open())}
    assert [rows[str(n)]["stopped_by"] for n in range(4)] == ["ladder", "user", "sweep_stop", ""]
    assert rows["1"]["stopped_at_step"] == "17"
    page = write_report(tmp_path / "report.html", "s-sha-1", "LadderSweepWorkflow", "COMPLETED", {"config": PLAIN},
                        swept).read_text()
    assert "stopped by the user (train-tune stop; the workflow COMPLETED)" in page
    assert "stopped (demoted by the ladder)" in page and "stopped (stopped by the user at step 17)" in page


def test_mixed_schedules_are_marked_in_every_table(tmp_path):
    trials = [trial(0, [10, 20]), trial(1, [20, 20], bracket=1), trial(2, [10])]
    text = rendered(trial_table(trials))
    assert f"@10{MARK}" in text and f"@20{MARK}" in text and "not trained under one LR schedule" in text
    board = rendered(leaderboard_table(result(trials), "minimize", "val_loss"))
    assert f"20{MARK}" in board and "not trained under one LR schedule" in board
    swept = result(trials)
    write_sweep_files(tmp_path, "s-sha-1", swept, PLAIN)
    saved = json.loads((tmp_path / "sweep.json").read_text())
    assert saved["status"] == "completed" and saved["mixed_schedule_steps"] == {"10": ["10", "20"],
                                                                                 "20": ["10>20", "20"]}
    assert [t["schedule_steps"] for t in saved["trials"]] == [[10, 20], [20, 20], [10]]
    rows = {row["trial"]: row for row in csv.DictReader((tmp_path / "leaderboard.csv").open())}
    assert (rows["0"]["schedule"], rows["0"]["mixed_schedule"]) == ("10>20", "True")
    assert (rows["2"]["schedule"], rows["2"]["mixed_schedule"]) == ("10", "True")
    page = write_report(tmp_path / "report.html", "s-sha-1", "LadderSweepWorkflow", "COMPLETED", {"config": PLAIN},
                        swept).read_text()
    assert f"20{MARK}" in page and "id='schedule-note'" in page and "10&gt;20" in page
    per_rung = page[page.index('<table id="rung-metrics">'):]
    assert f"<td>10{MARK}</td><td>10</td>" in per_rung[:per_rung.index("</table>")]  # trial 0 at rung 0
    assert "sweep completed its plan" in page


def test_a_parked_trial_the_user_stopped_is_told_apart_by_the_sweeps_record():
    parked = [TrialState(number=n, params={}, state="waiting", rung=0, metrics=[0.5], rung_steps=[10])
              for n in (1, 2)]
    decisions = [Decision("stop", 1, 0, "stopped by the user"), Decision("stop", 2, 0, "minimize 0.5000; top 1")]
    settle_parked(parked, decisions, stopped_by_user=[1])
    assert [(t.user_stopped, t.demoted) for t in parked] == [(True, False), (False, True)]
