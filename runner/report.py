"""`train-tune results ID --html`: one self-contained HTML report of a run, sweep or coordinator.

It holds the leaderboard, the optimisation history, the metric at each rung, the learning curves (from
the CSV logs in the checkpoint folders), a single run's per-class scores and test confusion matrix, and
the resolved config, with plotly's JavaScript inlined once, so the file opens anywhere without a network
(`tests/e2e/test_report.py` renders it in headless Chromium).
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from runner import sweep_accounting as accounting
from runner.coordinate import leaderboard
from runner.plots import PLOTS, confusion_figure, folder_learning_curve, plotly_figures
from runner.sweep_view import metric_names, report_parts, top_metrics
from workflows.payloads.runs import LEADERBOARD_METRIC, CoordinatorStatus, TrainEvalResult
from workflows.payloads.sweep import LadderSweepResult
from workflows.ranking import leaderboard_order

STYLE = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}
th{background:#f4f4f4}pre{background:#f8f8f8;padding:1em;overflow:auto}.meta td:first-child{font-weight:600}"""


REPORT_PLOTS = ("confusion_matrix", *PLOTS)
"""The report's figures in the order shown (a single run has a confusion matrix and a learning curve)."""


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.4f}"
    if isinstance(value, dict):
        return html.escape(" ".join(f"{k}={_cell(v)}" for k, v in sorted(value.items())))
    return html.escape(str(value))


def _ratio(value: float | None) -> float | str:
    """A per-class score; '-' where it has nothing to divide by (e.g. the recall of a class with no rows)."""
    return "-" if value is None else value


def table(rows: list[dict[str, Any]], columns: list[str], table_id: str) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{_cell(row.get(c, ''))}</td>" for c in columns) + "</tr>" for row in rows)
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


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
        order = leaderboard_order(result.trials, config.get("direction", "minimize"))
        by_number = {t.number: t for t in result.trials}
        mixed = accounting.mixed_steps(result.trials)
        others = [name for name in metric_names(result.trials, monitor) if name != monitor]  # at the top rung
        rows = [{"rank": rank, "trial": n, "state": accounting.state_text(by_number[n], result.stopped),
                 "params": by_number[n].params, **top_metrics(by_number[n]),
                 "top step": accounting.top_step_text(by_number[n], mixed),
                 monitor: by_number[n].metrics[-1] if by_number[n].metrics else "",
                 "schedule": accounting.top_schedule(by_number[n]), "error": by_number[n].error}
                for rank, n in enumerate(order, 1)]
        decisions = [{"kind": d.kind, "trial": d.trial, "rung": d.rung, "detail": d.detail} for d in result.decisions]
        note = accounting.footnote(mixed)
        parts = [f"<h2>Leaderboard</h2><p id='outcome'>{html.escape(accounting.outcome_line(result))}; best trial: "
                 f"{result.best_trial}</p>",
                 table(rows, ["rank", "trial", "state", "params", "top step", monitor, *others, "schedule", "error"],
                       "leaderboard"),
                 f"<p id='schedule-note'>{html.escape(note)}</p>" if note else "",
                 "<h2>Decisions</h2>", table(decisions, ["kind", "trial", "rung", "detail"], "decisions")]
        parts[-2:-2] = report_parts(result, monitor, table)  # every metric per rung, the test metrics
        return parts, plotly_figures(result, config.get("direction", "minimize"), monitor)
    if isinstance(result, CoordinatorStatus):
        rows = leaderboard(result)
        columns = ["job", "overrides", "state", f"test_{LEADERBOARD_METRIC}", "test_macro_f1", "test_loss",
                   "global_step", "error"]
        curves = {f"job {job.index}": folder_learning_curve(Path(job.best_checkpoint).parent, monitor)
                  for job in result.jobs if job.best_checkpoint}
        return ["<h2>Leaderboard</h2>", table(rows, columns, "leaderboard")], \
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
        parts += ["<h2>Per class (test)</h2>", table(classes, columns, "per-class")]
        figures["confusion_matrix"] = confusion_figure(result.label_names, result.confusion_matrix)
    return parts, figures


def write_report(path: Path, workflow_id: str, kind: str, status: str, memo: dict[str, Any], result: Any,
                 job_runs: dict[int, dict[str, Any]] | None = None) -> Path:
    """Write the report of `result` (a TrainEvalResult, CoordinatorStatus or LadderSweepResult); a
    coordinator's resolved configs are its jobs' runs (`job_runs`, by job index)."""
    config = memo.get("config") or {}
    parts, figures = sections(result, config)
    if isinstance(result, LadderSweepResult) and result.stopped:
        status = f"stopped by the user (train-tune stop; the workflow {status})"
    repo = memo.get("config_repo") or {}
    meta = [("workflow", workflow_id), ("kind", kind), ("status", status),
            ("config commit", (repo.get("commit") or "not recorded") + (" (dirty)" if repo.get("dirty") else "")),
            ("config hash", memo.get("config_hash", "")), ("rerun of", memo.get("rerun_of", ""))]
    plots = []
    for index, name in enumerate(n for n in REPORT_PLOTS if n in figures):
        plots.append(f'<h2 id="plot-{name}">{html.escape(name.replace("_", " ").capitalize())}</h2>')
        plots.append(figures[name].to_html(full_html=False, include_plotlyjs=index == 0, div_id=f"fig-{name}"))
    if config:
        resolved = OmegaConf.to_yaml(OmegaConf.create(config))
    elif job_runs:
        resolved = "".join(f"# job {index}\n" + OmegaConf.to_yaml(OmegaConf.create({"run": run}))
                           for index, run in sorted(job_runs.items()))
    else:
        resolved = "(not recorded)"
    document = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>train-tune {html.escape(workflow_id)}</title>"
        f"<style>{STYLE}</style></head><body><h1>train-tune report</h1>"
        "<table class='meta'>" + "".join(f"<tr><td>{k}</td><td>{_cell(v)}</td></tr>" for k, v in meta if v) + "</table>"
        + "".join(parts) + "".join(plots)
        + f"<h2>Resolved config</h2><pre id='config'>{html.escape(resolved)}</pre>"
        + f"<script type='application/json' id='report-data'>{html.escape(json.dumps({'workflow_id': workflow_id}))}"
        "</script></body></html>"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(document)
    return path
