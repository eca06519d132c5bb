"""`train-tune results ID --html`: one self-contained HTML report of a run, sweep or coordinator.

A sweep's is `runner.report_sweep`'s (summary, leaderboard, search-space and learning figures, the
decision log collapsed); a multirun's holds its leaderboard, its settings grouped over seeds and the jobs'
learning curves (from the CSV logs in the checkpoint folders); a single run's its test metrics, per-class
scores, test confusion matrix (regression: predicted against true values; multi_label: F1 per label; token
classification: F1 per entity type) and learning curve. Each ends with the resolved config, with plotly's
JavaScript inlined once, so the file opens anywhere without a network (`tests/workflows/test_report.py`
renders it in headless Chromium).
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from runner.budget_view import stopped_by_budget
from runner.coordinate import leaderboard, metric_columns
from runner.plots import confusion_figure, entity_f1_figure, folder_learning_curve, label_f1_figure, scatter_figure
from runner.report_data import seed_groups
from runner.report_html import ERRORS_SCRIPT, STYLE, cell, figures_html, table
from runner.report_sweep import FIGURES, TITLES, sweep_sections, wide
from workflows.payloads.runs import CoordinatorStatus, TrainEvalResult
from workflows.payloads.sweep import LadderSweepResult

REPORT_PLOTS = ("confusion_matrix", "per_label_f1", "entity_f1", "predicted_vs_true", "learning_curves")
"""A single run's and a multirun's figures in the order shown (a sweep's: `runner.report_sweep.TITLES`)."""


def _ratio(value: float | None) -> float | str:
    """A per-class score; '-' where it has nothing to divide by (e.g. the recall of a class with no rows)."""
    return "-" if value is None else value


def seed_parts(status: CoordinatorStatus) -> list[str]:
    """A multirun's settings run with several seeds: each test metric's mean, standard deviation and range
    over the seeds (`runner.report_data.seed_groups`); nothing when no setting repeats over seeds."""
    groups = seed_groups(status)
    if not groups:
        return []
    metrics = sorted({k for row in groups for k in row if k.startswith("test_")})
    rows = [{**row, **{m: (f"{row[m]['mean']:.4f} ± {row[m]['std']:.4f} ({row[m]['min']:.4f}–{row[m]['max']:.4f})"
                           if m in row else "") for m in metrics}} for row in groups]
    return ["<h2>Over seeds (mean ± standard deviation, range)</h2>",
            table(rows, ["setting", "seeds", "runs", *metrics], "seed-groups")]


def _curve_figure(curves: dict[str, list[tuple[int, float]]], metric: str):
    import plotly.graph_objects as go  # plotting libraries load only when a report is written

    figure = go.Figure()
    for name, curve in curves.items():
        figure.add_trace(go.Scatter(x=[s for s, _ in curve], y=[m for _, m in curve], mode="lines+markers", name=name))
    figure.update_layout(title="Learning curves", xaxis_title="global step", yaxis_title=metric,
                         template="plotly_white")
    return figure


def sections(result: Any, config: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """(HTML parts, plotly figures by name) for one kind of result."""
    monitor = (config.get("trainer") or {}).get("monitor", "val_loss")
    if isinstance(result, LadderSweepResult):
        return sweep_sections(result, config)
    if isinstance(result, CoordinatorStatus):
        rows = leaderboard(result)
        columns = ["job", "overrides", "state", *metric_columns(rows), "global_step", "error"]
        curves = {f"job {job.index}": folder_learning_curve(Path(job.best_checkpoint).parent, monitor)
                  for job in result.jobs if job.best_checkpoint}
        return ["<h2>Leaderboard</h2>", table(rows, columns, "leaderboard"), *seed_parts(result)], \
            {"learning_curves": _curve_figure({k: v for k, v in curves.items() if v}, monitor)}
    assert isinstance(result, TrainEvalResult)
    rows = [{"metric": k, "value": v} for k, v in sorted(result.metrics.items())]
    curve = folder_learning_curve(Path(result.best_checkpoint).parent, monitor)
    parts = ["<h2>Test metrics</h2>", table(rows, ["metric", "value"], "leaderboard"),
             f"<p>global step {result.train.global_step}, attempt {result.train.attempt}, best checkpoint "
             f"{html.escape(result.best_checkpoint)}</p>"]
    figures = {"learning_curves": _curve_figure({"run": curve} if curve else {}, monitor)}
    if result.per_class:  # results recorded before per-class scores existed have none
        columns = ["class", "precision", "recall", "f1", "support"]
        classes = [{"class": c.label, "precision": _ratio(c.precision), "recall": _ratio(c.recall),
                    "f1": _ratio(c.f1), "support": c.support} for c in result.per_class]
        tagged = result.task == "token_classification"
        parts += [f"<h2>Per {'entity type' if tagged else 'class'} (test)</h2>", table(classes, columns, "per-class")]
        if tagged:  # entity types, not the tag classes: no confusion matrix
            figures["entity_f1"] = entity_f1_figure(result.per_class)
        elif result.confusion_matrix:  # multi_label has none: a row may hold several labels
            figures["confusion_matrix"] = confusion_figure(result.label_names, result.confusion_matrix)
    if result.task == "multi_label":
        figures["per_label_f1"] = label_f1_figure(result.per_class)
    if result.points:  # regression
        figures["predicted_vs_true"] = scatter_figure(result.points, result.label_names[0] if result.label_names else "label")
    return parts, figures


def write_report(path: Path, workflow_id: str, kind: str, status: str, memo: dict[str, Any], result: Any,
                 job_runs: dict[int, dict[str, Any]] | None = None) -> Path:
    """Write the report of `result` (a TrainEvalResult, CoordinatorStatus or LadderSweepResult); a
    coordinator's resolved configs are its jobs' runs (`job_runs`, by job index)."""
    config = memo.get("config") or {}
    parts, figures = sections(result, config)
    if isinstance(result, LadderSweepResult) and result.stopped:
        by = f"its budget ({stopped_by_budget(result)}" if stopped_by_budget(result) else "the user (train-tune stop"
        status = f"stopped by {by}; the workflow {status})"
    repo = memo.get("config_repo") or {}
    meta = [("workflow", workflow_id), ("kind", kind), ("status", status),
            ("config commit", (repo.get("commit") or "not recorded") + (" (dirty)" if repo.get("dirty") else "")),
            ("config hash", memo.get("config_hash", "")), ("rerun of", memo.get("rerun_of", ""))]
    if isinstance(result, LadderSweepResult):
        plots = figures_html(figures, TITLES, wide(figures))
    else:
        plots = figures_html({n: figures[n] for n in REPORT_PLOTS if n in figures}, {}, set(figures))
    if FIGURES not in parts:
        parts.append(FIGURES)
    if config:
        resolved = OmegaConf.to_yaml(OmegaConf.create(config))
    elif job_runs:
        resolved = "".join(f"# job {index}\n" + OmegaConf.to_yaml(OmegaConf.create({"run": run}))
                           for index, run in sorted(job_runs.items()))
    else:
        resolved = "(not recorded)"
    document = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>train-tune {html.escape(workflow_id)}</title>"
        f"<style>{STYLE}</style>{ERRORS_SCRIPT}</head><body><h1>train-tune report</h1><pre id='js-errors'></pre>"
        "<table class='meta'>" + "".join(f"<tr><td>{k}</td><td>{cell(v)}</td></tr>" for k, v in meta if v) + "</table>"
        + "".join(plots if part == FIGURES else part for part in parts)
        + f"<h2>Resolved config</h2><pre id='config'>{html.escape(resolved)}</pre>"
        + f"<script type='application/json' id='report-data'>{html.escape(json.dumps({'workflow_id': workflow_id}))}"
        "</script></body></html>"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(document)
    return path
