"""A sweep's metrics as users read them, beside the monitored one its ladder ranks by: every validation
metric of each trial at each rung (`TrialState.rung_metrics`: loss, accuracy, macro-F1) and the best
trial's test metrics (`LadderSweepResult.best_test`).

The terminal trial table shows them in each rung's cell, the terminal leaderboard and leaderboard.csv
in columns (at the trial's top rung, `@STEP` per rung, `test_*` for the best trial), the HTML report in
its leaderboard, a table per rung and a test section; sweep.json holds the records themselves. Results
recorded before these metrics existed show only the monitored one.
"""

from __future__ import annotations

import csv
import html
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.table import Table

from runner.pbt_view import is_pbt, lineage_text
from runner.result_view import per_class_table
from runner.sweep_accounting import (
    ACCOUNTING,
    MARK,
    footnote,
    leaderboard_columns,
    mixed_steps,
    schedule_id,
    state_text,
    top_step_text,
)
from runner.terminal import say, show
from workflows.payloads.records import TrialState
from workflows.payloads.sweep import LadderSweepResult
from workflows.ranking import leaderboard_order

LEADERS_SHOWN = 10
"""Rows of the terminal leaderboard (leaderboard.csv and the report have every trial)."""


def params_texts(trials: list[TrialState]) -> dict[int, str]:
    """Each trial's parameters as `key=value ...`, each float key with the fewest significant digits (3 at
    least) that tell apart every value the trials have for it: 4.1e-04 and 4.12e-04 do not both read 0.0004."""
    digits: dict[str, int] = {}
    for key in {k for t in trials for k, v in t.params.items() if isinstance(v, float)}:
        values = {t.params[key] for t in trials if isinstance(t.params.get(key), float)}
        digits[key] = next((n for n in range(3, 17) if len({f"{v:.{n}g}" for v in values}) == len(values)), 17)
    return {t.number: " ".join(f"{k}={v:.{digits[k]}g}" if isinstance(v, float) else f"{k}={v}"
                               for k, v in sorted(t.params.items())) for t in trials}


def metric_names(trials: list[TrialState], monitor: str) -> list[str]:
    """Every validation metric the trials recorded at some rung, the monitored one first."""
    names = {name for t in trials for metrics in t.rung_metrics for name in metrics}
    return sorted(names, key=lambda name: (name != monitor, name))


def short(name: str) -> str:
    """A metric's name without the `val_` of validation metrics ('accuracy', 'macro_f1')."""
    return name.removeprefix("val_")


def _value(value: float | None) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4f}"


def at_rungs(t: TrialState) -> dict[int, dict[str, float]]:
    """Global step -> every validation metric recorded there (rungs without them: none)."""
    return {step: metrics for step, metrics in zip(t.rung_steps, t.rung_metrics, strict=False) if metrics}


def rung_cells(t: TrialState, monitor: str = "val_loss") -> dict[int, str]:
    """Global step -> the trial table's cell: every validation metric there, one per line (the monitored
    one first), or only the monitored value where the others were not recorded."""
    cells = {step: _value(value) for step, value in zip(t.rung_steps, t.metrics, strict=False)}
    for step, metrics in at_rungs(t).items():
        cells[step] = "\n".join(f"{short(name)} {_value(metrics[name])}" for name in metric_names([t], monitor))
    return cells


def top_metrics(t: TrialState) -> dict[str, float]:
    """Every validation metric at the highest rung the trial reached (empty where not recorded)."""
    return dict(t.rung_metrics[len(t.metrics) - 1]) if t.metrics and len(t.rung_metrics) >= len(t.metrics) else {}


def csv_columns(trials: list[TrialState], monitor: str) -> list[str]:
    """leaderboard.csv's metric columns after its monitored one: the other validation metrics at the
    trial's top rung, every validation metric at each rung step (`val_accuracy@20`), the best trial's
    test metrics (`test_accuracy`)."""
    names = metric_names(trials, monitor)
    steps = sorted({step for t in trials for step in at_rungs(t)})
    return [*(n for n in names if n != monitor), *(f"{n}@{step}" for step in steps for n in names)]


def csv_values(t: TrialState, columns: list[str], result: LadderSweepResult) -> list[Any]:
    """The row of `t` under `csv_columns` (and `test_columns`); '' where it has no value."""
    values: dict[str, Any] = dict(top_metrics(t))
    values.update({f"{name}@{step}": value for step, metrics in at_rungs(t).items() for name, value in metrics.items()})
    if result.best_test is not None and t.number == result.best_trial:
        values.update({f"test_{name}": value for name, value in result.best_test.metrics.items()})
    return [values.get(column, "") for column in columns]


def test_columns(result: LadderSweepResult) -> list[str]:
    """`test_<metric>` for each of the best trial's test metrics (none when it has none)."""
    return [f"test_{name}" for name in sorted(result.best_test.metrics)] if result.best_test is not None else []


def write_leaderboard(path: Path, result: LadderSweepResult, order: list[int], monitor: str) -> None:
    """leaderboard.csv: the trials with a result, best first (`order`): rank, trial, state, top rung step,
    the monitored metric there, the parameters (and a PBT member's lineage), the checkpoint, then the other
    metrics (`csv_columns`, `test_columns`) and the accounting (`runner.sweep_accounting.leaderboard_columns`)."""
    by_number = {t.number: t for t in result.trials}
    mixed = mixed_steps(result.trials)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        keys = sorted({k for t in result.trials for k in t.params})
        metrics = [*csv_columns(result.trials, monitor), *test_columns(result)]
        lineage = ["lineage"] if is_pbt(result.trials) else []
        writer.writerow(["rank", "trial", "state", "top_step", monitor, *keys, *lineage, "checkpoint", *metrics,
                         *ACCOUNTING])
        for rank, number in enumerate(order, 1):
            t = by_number[number]
            writer.writerow([rank, number, t.state, t.rung_steps[-1], t.metrics[-1], *(t.params.get(k) for k in keys),
                             *([lineage_text(t)] if lineage else []), "" if t.checkpoints_pruned else t.checkpoint,
                             *csv_values(t, metrics, result), *leaderboard_columns(t, mixed, result.stopped).values()])


def leaderboard_table(result: LadderSweepResult, direction: str, monitor: str, order: list[int] | None = None) -> Table:
    """The best LEADERS_SHOWN trials (`order`: as the sweep ranked them, `runner.pareto_view.leader_order`;
    default by `direction`): their top rung step, every validation metric there, their parameters (and a PBT
    member's lineage)."""
    order = leaderboard_order(result.trials, direction) if order is None else order
    by_number = {t.number: t for t in result.trials}
    names = metric_names(result.trials, monitor) or [monitor]
    shown = f"best {LEADERS_SHOWN} of {len(order)}" if len(order) > LEADERS_SHOWN else f"{len(order)} trials"
    mixed = mixed_steps(result.trials)
    table = Table(title=f"leaderboard ({shown}; validation metrics at each trial's top rung)", title_justify="left",
                  caption=footnote(mixed) or None, caption_justify="left")
    pbt = is_pbt(result.trials)
    for column in ("rank", "trial", "state", "top step", *map(short, names), "params", *(["lineage"] if pbt else [])):
        table.add_column(column, justify="left" if column in ("params", "state", "lineage") else "right",
                         no_wrap=column in ("rank", "trial", "params", "lineage"))
    params = params_texts(result.trials)
    for rank, number in enumerate(order[:LEADERS_SHOWN], 1):
        t = by_number[number]
        metrics = top_metrics(t) or {monitor: t.metrics[-1]}
        table.add_row(str(rank), str(number), state_text(t, result.stopped), top_step_text(t, mixed),
                      *(_value(metrics.get(n)) for n in names), params[number], *([lineage_text(t)] if pbt else []))
    return table


def test_table(result: LadderSweepResult) -> Table | None:
    """The best trial's test metrics (metric, value); None when it has none."""
    if result.best_test is None:
        return None
    table = Table(title="test metrics")  # of the best trial, named on the line above
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in sorted(result.best_test.metrics.items()):
        table.add_row(name, _value(value))
    return table


def print_summary(result: LadderSweepResult, direction: str, monitor: str, order: list[int] | None = None) -> None:
    """The end of a sweep in the terminal: the leaderboard, the best trial and its test metrics (and per
    class), or why it has none."""
    if result.best_trial < 0:
        say("no trial finished a rung")
        return
    show(leaderboard_table(result, direction, monitor, order))
    best = next(t for t in result.trials if t.number == result.best_trial)
    say(f"best trial {best.number}: {best.params}  checkpoint {best.checkpoint}")
    tested = test_table(result)
    if tested is not None and result.best_test is not None:
        show(tested)
        show(per_class_table(result.best_test))
    if result.best_test_note:
        say(("test: " if tested is not None else "no test metrics: ") + result.best_test_note)


def rung_rows(result: LadderSweepResult, monitor: str) -> tuple[list[dict[str, Any]], list[str]]:
    """(rows, metric columns) of the report's per-rung table: one row per trial and rung reached (its step
    marked where results there mix LR schedules, and the schedule it was trained under)."""
    names = metric_names(result.trials, monitor) or [monitor]
    mixed = mixed_steps(result.trials)
    rows = []
    for t in sorted(result.trials, key=lambda t: t.number):
        for rung, (step, value) in enumerate(zip(t.rung_steps, t.metrics, strict=False)):
            metrics = t.rung_metrics[rung] if rung < len(t.rung_metrics) and t.rung_metrics[rung] else {monitor: value}
            rows.append({"trial": t.number, "rung": rung, "step": f"{step}{MARK if step in mixed else ''}",
                         "schedule": schedule_id(t, rung), **{n: metrics.get(n, "") for n in names}})
    return rows, names


def test_parts(result: LadderSweepResult, table: Callable[[list[dict[str, Any]], list[str], str], str]) -> list[str]:
    """The HTML report's best-trial test metrics and per-class scores (or why it has none); `table`
    renders (rows, columns, id) as HTML (`runner.report_html.table`)."""
    if result.best_test is None:
        note = result.best_test_note or "not recorded (a sweep from before they were)"
        return [f"<h3>Test metrics</h3><p id='best-test-note'>none: {html.escape(note)}</p>"]
    test = [{"metric": name, "value": value} for name, value in sorted(result.best_test.metrics.items())]
    classes = [{"class": c.label, "precision": "-" if c.precision is None else c.precision,
                "recall": "-" if c.recall is None else c.recall, "f1": "-" if c.f1 is None else c.f1,
                "support": c.support} for c in result.best_test.per_class]
    return [f"<h3>Test metrics of the best trial {result.best_trial}</h3>", table(test, ["metric", "value"], "best-test"),
            f"<p id='best-test-note' class='note'>{html.escape(result.best_test_note)} ({result.best_test.num_examples} "
            f"examples)</p>",
            *(["<h3>Per class (test, best trial)</h3>",
               table(classes, ["class", "precision", "recall", "f1", "support"], "best-test-per-class")]
              if classes else [])]
