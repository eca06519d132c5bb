"""A sweep's budget without a server: the rule (`workflows.budget.spent`), the stop it makes on the sweep's
records (`enforce`, driven as the workflow's loop drives it), its config (`runner.budget_config`), and how it
reads in the terminal, sweep.json and the HTML report."""

from __future__ import annotations

import json

import pytest

from runner.budget_config import refuse_outside_sweep, resolve_budget, wall_time_seconds
from runner.budget_view import budget_line
from runner.report import write_report
from runner.sweep_accounting import outcome_line
from runner.sweep_results import write_sweep_files
from tests.conftest import compose_config
from tests.unit.sweep_sim import Sim, sweep_input
from tests.unit.test_sweep_accounting import PLAIN, result, trial
from workflows.budget import enforce, spent, time_left
from workflows.payloads.budget import BudgetSpec, BudgetUsed
from workflows.payloads.errors import ConfigError


def test_a_limit_is_spent_once_used_reaches_it_and_zero_is_unlimited():
    assert spent(BudgetSpec(), BudgetUsed(steps=10**9, wall_time_s=10**9, gpu_seconds=10**9)) is None
    assert spent(BudgetSpec(max_steps_total=100), BudgetUsed(steps=99)) is None
    assert spent(BudgetSpec(max_steps_total=100), BudgetUsed(steps=100)) == (
        "max_steps_total", "max_steps_total: 100 of 100 steps trained")
    assert spent(BudgetSpec(max_wall_time_s=3600), BudgetUsed(wall_time_s=3599.9)) is None
    assert spent(BudgetSpec(max_wall_time_s=3600), BudgetUsed(wall_time_s=3720)) == (
        "max_wall_time", "max_wall_time: 1h02m of 1h00m since the sweep started")
    assert spent(BudgetSpec(max_gpu_hours=0.5), BudgetUsed(gpu_seconds=1799)) is None
    assert spent(BudgetSpec(max_gpu_hours=0.5), BudgetUsed(gpu_seconds=1800))[0] == "max_gpu_hours"  # type: ignore[index]
    # several spent: the first in key order says why
    both = spent(BudgetSpec(max_steps_total=1, max_wall_time_s=1), BudgetUsed(steps=5, wall_time_s=5))
    assert both is not None and both[0] == "max_steps_total"


def play(spec: BudgetSpec, now: float = 100.0) -> Sim:
    """A 4-trial sha sweep (rungs 10, 30, eta 2), one segment at a time, the budget checked before each
    start as `LadderSweepWorkflow.run` checks it."""
    sim = Sim.start(sweep_input("sha", 4, [10, 30], eta=2))
    sim.book.s.budget.started_at = 0.0
    while True:
        enforce(sim.book, spec, now, running=False)
        before = len(sim.book.s.decisions)
        sim.run(1)
        if len(sim.book.s.decisions) == before:
            return sim.end()


def test_a_spent_step_budget_stops_the_sweep_as_a_stop_signal_does_and_says_why():
    unlimited = play(BudgetSpec())
    assert not unlimited.book.s.stopping and unlimited.book.s.budget.steps == 4 * 10 + 2 * 20
    sim = play(BudgetSpec(max_steps_total=25))  # spent after the third trial's first rung
    s = sim.book.s
    assert s.stopping and s.budget.spent == "max_steps_total" and s.budget.steps == 30
    assert sorted(len(t.metrics) for t in sim.book.trials.values()) == [1, 1, 1]  # nothing started after it
    stops = [d for d in s.decisions if d.kind == "stop_sweep"]
    assert len(stops) == 1 and stops[0].detail.startswith("budget spent: max_steps_total: 30 of 25 steps trained")
    assert {t.reason for t in sim.book.trials.values()} == {"the sweep was stopped"}


def test_a_budget_reached_as_the_plan_ends_stops_nothing():
    sim = play(BudgetSpec(max_steps_total=80))  # the plan trains exactly 80 steps
    assert not sim.book.s.stopping and not sim.book.s.budget.spent
    assert "stop_sweep" not in [d.kind for d in sim.book.s.decisions]


def test_a_wall_time_budget_counts_from_the_sweeps_start_and_times_its_wait():
    sim = Sim.start(sweep_input("sha", 4, [10, 30], eta=2))
    sim.book.s.budget.started_at = 1000.0
    spec = BudgetSpec(max_wall_time_s=60)
    assert time_left(spec, sim.book.s, 1010.0) == 50.0 and time_left(BudgetSpec(), sim.book.s, 1010.0) is None
    assert not enforce(sim.book, spec, 1059.0, running=False)
    assert enforce(sim.book, spec, 1060.5, running=False)
    assert sim.book.s.budget.spent == "max_wall_time" and time_left(spec, sim.book.s, 1061.0) is None
    assert not enforce(sim.book, spec, 1070.0, running=True)  # once: already stopping


@pytest.mark.parametrize("value, seconds", [("", 0), (0, 0), ("3600", 3600), (90, 90), ("90m", 5400), ("2h", 7200),
                                            ("1h30m", 5400), ("1d", 86400), ("45s", 45), ("0.5h", 1800)])
def test_wall_times_users_write(value, seconds):
    assert wall_time_seconds(value) == seconds


@pytest.mark.parametrize("budget, expected", [
    ({"max_wall_time": "2 hours"}, "budget.max_wall_time is '2 hours', but must be seconds (3600) or a duration"),
    ({"max_wall_time": "h2"}, "budget.max_wall_time is 'h2'"),
    ({"max_wall_time": "-5"}, "budget.max_wall_time is '-5', but must be"),
    ({"max_steps_total": -1}, "budget.max_steps_total is -1, but must be a whole number of steps >= 0"),
    ({"max_gpu_hours": -0.5}, "budget.max_gpu_hours is -0.5, but must be a number of hours >= 0"),
])
def test_bad_budgets_name_the_key_the_value_and_what_is_valid(budget, expected):
    with pytest.raises(ConfigError) as raised:
        resolve_budget({"budget": {"max_steps_total": 0, "max_wall_time": "", "max_gpu_hours": 0.0, **budget}})
    assert expected in str(raised.value) and "\n" not in str(raised.value)


def test_the_composed_config_carries_a_budget_and_a_single_run_refuses_one():
    from runner.resolve import resolve_run
    from runner.sweep_config import resolve_sweep

    run, plain = resolve_run(compose_config("experiment=bert_sweep", "budget.max_steps_total=500",
                                            "budget.max_wall_time=90m"))
    assert resolve_sweep(run, plain).budget == BudgetSpec(max_steps_total=500, max_wall_time_s=5400)
    _, single = resolve_run(compose_config("budget.max_gpu_hours=2"))
    with pytest.raises(ConfigError, match=r"budget.max_gpu_hours is 2.0, but a budget applies to sweeps only"):
        refuse_outside_sweep(single, "a single run")
    refuse_outside_sweep(resolve_run(compose_config())[1], "a single run")  # no budget: nothing to refuse


def test_the_budget_reads_the_same_in_the_terminal_sweep_json_and_the_report(tmp_path):
    spec = BudgetSpec(max_steps_total=25, max_wall_time_s=3600)
    used = BudgetUsed(steps=30, wall_time_s=125, spent="max_steps_total",
                      detail="max_steps_total: 30 of 25 steps trained")
    line = budget_line(spec, used)
    assert line == ("budget used: 30 of 25 steps trained (120%); 2m05s of 1h00m since the sweep started (3%); "
                    "spent: max_steps_total, so the sweep stopped")
    assert budget_line(BudgetSpec(), used) == ""
    swept = result([trial(0, [10], state="stopped", reason="the sweep was stopped"), trial(1, [10, 30])], stopped=True)
    swept.budget, swept.budget_used = spec, used
    assert outcome_line(swept).startswith("sweep stopped by its budget (max_steps_total: 30 of 25 steps trained)")
    write_sweep_files(tmp_path, "s-sha-1", swept, PLAIN)
    saved = json.loads((tmp_path / "sweep.json").read_text())
    assert saved["budget_spent"] == "max_steps_total" and saved["budget_note"] == line
    assert saved["budget"]["max_steps_total"] == 25 and saved["budget_used"]["steps"] == 30
    page = write_report(tmp_path / "report.html", "s-sha-1", "LadderSweepWorkflow", "COMPLETED", {"config": PLAIN},
                        swept).read_text()
    assert "stopped by its budget (max_steps_total: 30 of 25 steps trained; the workflow COMPLETED)" in page
    assert "<p id='budget'>budget used: 30 of 25 steps trained (120%)" in page
