"""A ladder sweep's report, in the order people look for things: the outcome, the best trial and its
test metrics, the trials' states, proposals and rungs; the leaderboard (a PBT member's lineage too); the
figures (optimisation history, a PBT sweep's lineage and hyperparameter schedules, parameter importance,
parallel coordinates, slices, learning curves with rungs and promotions (a PBT sweep's exploits),
training loss and accuracy, metric per rung, a Pareto front for several objectives, timeline); a PBT
sweep's exploit decisions (`runner.report_pbt`); then the long tables collapsed: validation metrics per
rung and the filterable decision log.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from runner import report_data as data
from runner import report_pbt
from runner import report_plots as plots
from runner import sweep_accounting as accounting
from runner.budget_view import budget_line
from runner.pareto_view import front_rows, front_view, leader_order
from runner.pbt_view import is_pbt, lineage_text
from runner.plots import folder_curves, plotly_figures
from runner.report_html import collapsed, decision_log, table
from runner.sweep_view import metric_names, params_texts, rung_rows, test_parts, top_metrics
from runner.warm_view import warm_lines
from workflows.payloads.records import TrialState
from workflows.payloads.sweep import LadderSweepResult

FIGURES = "<!-- figures -->"
"""Where in the sweep's parts `runner.report` puts the figures."""
TITLES = {"optimization_history": "Optimisation history", "lineage": "Lineage (population-based training)",
          "schedules": "Hyperparameter schedules", "importance": "Parameter importance",
          "parallel_coordinates": "Parallel coordinates", "slices": "Slices", "learning_curves": "Learning curves",
          "training_curves": "Training loss and accuracy", "rungs": "Metric at each rung", "pareto": "Pareto front",
          "hypervolume": "Hypervolume over steps trained",
          "timeline": "Timeline"}
"""The sweep's figures, in the order shown, with their headings."""
PBT_ONLY = {"lineage", "schedules"}
"""Figures only a population-based training sweep has (`runner.report_pbt`)."""
MO_ONLY = {"pareto", "hypervolume"}
"""Figures only a multi-objective sweep has (`runner.pareto_view`)."""
WIDE = {"lineage", "schedules", "parallel_coordinates", "slices", "learning_curves", "training_curves", "timeline"}
"""Figures shown across the page; the others two to a row (the metric per rung across when it has no
Pareto front beside it)."""


def wide(figures: dict[str, Any]) -> set[str]:
    return WIDE | ({"rungs"} if "pareto" not in figures else set())


def summary_parts(result: LadderSweepResult, params: dict[int, str]) -> list[str]:
    best = f"best trial: {result.best_trial} ({params[result.best_trial]})" if result.best_trial in params else \
        "no trial finished a rung"
    states = [{"state": k, "trials": v} for k, v in data.state_counts(result).items()]
    proposals = [{"proposed by": k, "trials": v} for k, v in data.proposal_counts(result.trials).items()]
    rungs = [{"bracket": r.bracket, "rung": r.rung, "step": r.budget_steps, "reported": r.reported,
              "promoted": r.promoted} for r in result.rungs]
    cards = ["<div>" + "".join(test_parts(result, table)) + "</div>",
             f"<div><h3>Trial states</h3>{table(states, ['state', 'trials'], 'trial-states')}</div>",
             f"<div><h3>Proposals</h3>{table(proposals, ['proposed by', 'trials'], 'proposals')}</div>"]
    if rungs:
        cards.append(f"<div><h3>Rungs</h3>{table(rungs, ['bracket', 'rung', 'step', 'reported', 'promoted'], 'rung-table')}"
                     "</div>")
    budget = budget_line(result.budget, result.budget_used)
    warm = [f"<p class='warm-start'>{html.escape(line)}</p>" for line in warm_lines(result.trials, result.decisions)]
    return [f"<h2 id='summary'>Summary</h2><p id='outcome'>{html.escape(accounting.outcome_line(result))}; "
            f"{len(result.trials)} trials; {html.escape(best)}</p>",
            *([f"<p id='budget'>{html.escape(budget)}</p>"] if budget else []), *warm, "<div class='cards'>", *cards,
            "</div>"]


def leaderboard_part(result: LadderSweepResult, monitor: str, params: dict[int, str], order: list[int]) -> list[str]:
    by_number = {t.number: t for t in result.trials}
    mixed = accounting.mixed_steps(result.trials)
    others = [name for name in metric_names(result.trials, monitor) if name != monitor]  # at the top rung
    rows = [{"rank": rank, "trial": n, "state": accounting.state_text(by_number[n], result.stopped),
             "params": params[n], **top_metrics(by_number[n]),
             "top step": accounting.top_step_text(by_number[n], mixed),
             monitor: by_number[n].metrics[-1] if by_number[n].metrics else "",
             "proposed by": by_number[n].proposed_by or data.NOT_RECORDED,
             "schedule": accounting.top_schedule(by_number[n]), "error": by_number[n].error,
             "lineage": lineage_text(by_number[n])}
            for rank, n in enumerate(order, 1)]
    note = accounting.footnote(mixed)
    lineage = ["lineage"] if is_pbt(result.trials) else []
    columns = ["rank", "trial", "state", "top step", monitor, *others, "params", *lineage, "proposed by", "schedule",
               "error"]
    return [f"<h2>Leaderboard ({len(rows)} trials with a result)</h2><div class='scroll'>",
            table(rows, columns, "leaderboard"), "</div>",
            f"<p id='schedule-note' class='note'>{html.escape(note)}</p>" if note else ""]


def detail_parts(result: LadderSweepResult, monitor: str) -> list[str]:
    rows, names = rung_rows(result, monitor)
    reasons = {t.number: t.proposed_by for t in result.trials}
    decisions = [{"kind": d.kind, "trial": d.trial, "rung": d.rung, "detail": d.detail,
                  "proposed by": reasons.get(d.trial, "") if d.kind == "propose" else ""} for d in result.decisions]
    per_rung = "<div class='scroll'>" + table(rows, ["trial", "rung", "step", "schedule", *names], "rung-metrics") + \
        "</div>"
    return [collapsed("rung-metrics-section", f"Validation metrics per rung ({len(rows)} results)", per_rung),
            decision_log(decisions)]


def search_figures(trials: list[TrialState], direction: str, monitor: str) -> dict[str, Any]:
    """Importance (or the note why there is none), parallel coordinates and slices, at the step most
    trials reached."""
    step = data.comparison_step(trials)
    values = data.values_at(trials, step)
    ranked, note = data.importances(trials, step, direction)
    figures: dict[str, Any] = {"importance": plots.importance_figure(ranked, note) if ranked else note}
    if values:
        figures["parallel_coordinates"] = plots.parallel_coordinates(trials, values, monitor, step, direction)
        figures["slices"] = plots.slice_figure(trials, values, monitor, step)
    return figures


def pareto_parts(result: LadderSweepResult, config: dict[str, Any],
                 params: dict[int, str]) -> tuple[list[str], dict[str, Any]]:
    """A multi-objective sweep's front (`runner.pareto_view`): its table, the Pareto plot and the hypervolume
    over the steps trained; nothing for one objective."""
    view = front_view(result, config)
    if view is None:
        return [], {}
    names = [f"{o.metric} @ {view.step}" for o in view.objectives]
    figures: dict[str, Any] = {"pareto": plots.pareto_figure(view.points, view.front, names,
                                                             [n for n, v in view.violations.items() if v > 0])}
    if view.hypervolume:
        figures["hypervolume"] = plots.hypervolume_figure(view.hypervolume)
    rows = front_rows(view, params)
    columns = ["point", "trial", *(o.metric for o in view.objectives), "params", "pick"]
    part = (f"<h2 id='front'>Pareto front at step {view.step} ({len(view.front)} of {len(view.points)} trials)</h2>"
            f"<p class='note'>train-tune results ID --pick N writes front point N's config; "
            f"--pick weighted the weighted pick's</p><div class='scroll'>{table(rows, columns, 'pareto-front')}</div>")
    return [part], figures


def sweep_sections(result: LadderSweepResult, config: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """(HTML parts, with `FIGURES` where the figures go; figures by name, in `TITLES` order)."""
    direction = config.get("direction", "minimize")
    monitor = (config.get("trainer") or {}).get("monitor", "val_loss")
    params = params_texts(result.trials)
    base = plotly_figures(result, direction, monitor)  # optimisation history and metric per rung
    for name, caption in (("optimization_history", f"{monitor} at each trial's highest rung"),
                          ("rungs", f"{monitor} of every trial at every rung")):
        plots.restyle(base[name], caption)
    curves = {t.number: folder_curves(Path(t.checkpoint_dir)) for t in result.trials if t.checkpoint_dir}
    budgets = sorted({step for t in result.trials for step in t.rung_steps})
    timeline = data.timeline_rows(result)
    pbt = is_pbt(result.trials)  # every member goes on at every boundary: its exploits, not promotions, matter
    monitored = {n: c[monitor] for n, c in curves.items() if c.get(monitor)}
    figures: dict[str, Any] = {
        "optimization_history": base["optimization_history"], **search_figures(result.trials, direction, monitor),
        "learning_curves": report_pbt.curves_figure(monitored, monitor, budgets, result.trials) if pbt else
        plots.curves_figure(monitored, monitor, budgets, data.promotions(result)),
        "rungs": base["rungs"],
        "timeline": plots.timeline_figure(timeline) if timeline else
        "wall times not recorded (a sweep from before they were)",
    }
    if any(c.get("train_loss") or c.get("val_accuracy") for c in curves.values()):
        figures["training_curves"] = plots.training_figure(curves)
    if pbt:
        figures.update(report_pbt.pbt_figures(result, config))
    front_parts, front_figures = pareto_parts(result, config, params)
    figures.update(front_figures)
    ordered = {name: figures[name] for name in TITLES if name in figures}
    leaders = leaderboard_part(result, monitor, params, leader_order(result.trials, config))
    parts = [*summary_parts(result, params), *front_parts, *leaders, FIGURES,
             *(report_pbt.exploit_part(result) if pbt else []), *detail_parts(result, monitor)]
    return parts, ordered
