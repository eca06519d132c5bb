"""Plots of a finished (or running) ladder sweep, each as PNG (matplotlib) and self-contained HTML (plotly):

- optimisation history: each trial's metric at the highest rung it reached, by trial number, with the
  best so far among trials that reached the sweep's top rung;
- rungs: the metric of every trial at every rung budget (one series per rung);
- learning curves: the validation metric against the global step, read from each trial's Lightning CSV
  logs (which stay when a demoted trial's checkpoints are deleted);

and, for a single run's report, its test confusion matrix as a heat map (`confusion_figure`), a regression's
predicted-vs-true scatter (`scatter_figure`) or a token classifier's F1 per entity type (`entity_f1_figure`).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

from activities.shared_storage import storage
from workflows.layout import LOGS
from workflows.payloads.records import TrialState
from workflows.payloads.sweep import LadderSweepResult
from workflows.ranking import nan_last

PLOTS = ("optimization_history", "rungs", "learning_curves")


def learning_curve(trial: TrialState, metric: str) -> list[tuple[int, float]]:
    """(global step, metric) of every validation the trial logged, across its segments and attempts;
    a step logged twice (a retried segment) keeps its latest value."""
    return folder_learning_curve(Path(trial.checkpoint_dir), metric)


def folder_learning_curve(checkpoint_dir: Path, metric: str) -> list[tuple[int, float]]:
    """`learning_curve` of the training whose checkpoint folder is `checkpoint_dir`."""
    return folder_curves(checkpoint_dir).get(metric, [])


def folder_curves(checkpoint_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """Every metric the training whose checkpoint folder is `checkpoint_dir` logged (`train_loss`,
    `val_loss`, `val_accuracy`, ...) as (global step, value), as `learning_curve` reads one."""
    logs = checkpoint_dir / LOGS
    storage().fetch_tree(logs)  # trained on another machine (storage.uri)
    points: dict[str, dict[int, float]] = {}
    for path in sorted(logs.glob("*/metrics.csv"), key=lambda p: p.stat().st_mtime) if logs.is_dir() else []:
        with path.open() as handle:
            for row in csv.DictReader(handle):
                for name, value in row.items():
                    if value and name not in ("step", "epoch"):  # Lightning logs the 0-based step
                        points.setdefault(name, {})[int(row["step"]) + 1] = float(value)
    return {name: sorted(values.items()) for name, values in sorted(points.items())}


def series(result: LadderSweepResult, direction: str, metric: str) -> dict[str, Any]:
    """The data behind the three plots (plain lists, so tests can check them)."""
    scored = [t for t in result.trials if t.metrics]
    top = max((t.rung_steps[-1] for t in scored), default=0)
    best_so_far, best = [], math.nan
    for t in scored:
        if t.rung_steps[-1] == top:
            best = min(best, t.metrics[-1], key=lambda value: nan_last(value, direction))
        best_so_far.append(best)
    budgets = sorted({s for t in scored for s in t.rung_steps})
    rungs = {b: [(t.number, m) for t in scored for s, m in zip(t.rung_steps, t.metrics, strict=False) if s == b] for b in budgets}
    curves = {t.number: learning_curve(t, metric) for t in result.trials}
    return {
        "history": [(t.number, t.metrics[-1], t.rung_steps[-1]) for t in scored],
        "best_so_far": best_so_far, "rungs": rungs, "curves": {n: c for n, c in curves.items() if c},
    }


def plotly_figures(result: LadderSweepResult, direction: str, monitor: str) -> dict[str, Any]:
    """The three plots as plotly figures (what the HTML files and `results --html` show)."""
    import plotly.graph_objects as go  # plotting libraries load only when a plot is drawn

    data = series(result, direction, monitor)
    history, rungs, curves = data["history"], data["rungs"], data["curves"]
    figures = {name: go.Figure() for name in PLOTS}
    for step in sorted({step for _, _, step in history}):
        points = [(n, m) for n, m, s in history if s == step]
        figures["optimization_history"].add_trace(go.Scatter(
            x=[n for n, _ in points], y=[m for _, m in points], mode="markers", name=f"stopped at step {step}"))
    figures["optimization_history"].add_trace(go.Scatter(
        x=[n for n, _, _ in history], y=data["best_so_far"], mode="lines", line_shape="hv",
        name="best at the top rung so far"))
    for budget, points in rungs.items():
        figures["rungs"].add_trace(go.Scatter(x=[n for n, _ in points], y=[m for _, m in points], mode="markers",
                                              name=f"rung @ step {budget}"))
    for number, curve in sorted(curves.items()):
        figures["learning_curves"].add_trace(go.Scatter(
            x=[s for s, _ in curve], y=[m for _, m in curve], mode="lines+markers", name=f"trial {number}"))
    for name, (title, x) in TITLES.items():
        figures[name].update_layout(title=title, xaxis_title=x, yaxis_title=monitor, template="plotly_white")
    return figures


def confusion_figure(label_names: list[str], matrix: list[list[int]]):
    """A single run's test confusion matrix as a plotly heat map: true label down, predicted across, in
    the label order of the model's classes, each cell annotated with its count."""
    import plotly.graph_objects as go  # plotting libraries load only when a plot is drawn

    figure = go.Figure(go.Heatmap(z=matrix, x=label_names, y=label_names, colorscale="Blues", texttemplate="%{z}",
                                  hovertemplate="true %{y}<br>predicted %{x}<br>%{z} rows<extra></extra>"))
    figure.update_layout(title="Confusion matrix (test)", xaxis_title="predicted", yaxis_title="true",
                         yaxis_autorange="reversed", template="plotly_white")
    return figure


def label_f1_figure(per_class: list[Any]):
    """A multi-label run's test F1 of each label as horizontal bars (labels in the model's order, each bar
    annotated with its F1 and test support); a label with no test rows and no predictions has no bar."""
    import plotly.graph_objects as go  # plotting libraries load only when a plot is drawn

    names = [c.label for c in per_class]
    f1 = [c.f1 for c in per_class]
    text = [f"{'-' if v is None else f'{v:.3f}'} (support {c.support})" for v, c in zip(f1, per_class, strict=True)]
    figure = go.Figure(go.Bar(x=f1, y=names, orientation="h", text=text, textposition="auto",
                              hovertemplate="%{y}: F1 %{x:.3f}<extra></extra>"))
    figure.update_layout(title="F1 per label (test)", xaxis_title="F1", xaxis_range=[0, 1], yaxis_autorange="reversed",
                         template="plotly_white")
    return figure


def entity_f1_figure(per_type: list[Any]):
    """A token-classification run's test F1 per entity type (`ClassMetrics`), as bars labelled with the
    type's F1 and its number of test entities (a type never predicted nor true has no bar)."""
    import plotly.graph_objects as go  # plotting libraries load only when a plot is drawn

    kinds = [c for c in per_type if c.f1 is not None]
    figure = go.Figure(go.Bar(x=[c.label for c in kinds], y=[c.f1 for c in kinds],
                              text=[f"{c.f1:.2f} (n={c.support})" for c in kinds], textposition="outside",
                              hovertemplate="%{x}<br>F1 %{y:.4f}<extra></extra>"))
    figure.update_layout(title="Entity F1 per type (test)", xaxis_title="entity type", yaxis_title="F1",
                         yaxis_range=[0, 1.05], template="plotly_white")
    return figure


def scatter_figure(points: list[list[float]], label: str):
    """A regression run's test predictions against the true labels, with the y = x line a perfect model
    would lie on."""
    import plotly.graph_objects as go  # plotting libraries load only when a plot is drawn

    truth, predicted = [p[0] for p in points], [p[1] for p in points]
    low, high = min(truth + predicted), max(truth + predicted)
    figure = go.Figure([
        go.Scatter(x=truth, y=predicted, mode="markers", name="test rows", marker={"size": 5, "opacity": 0.6}),
        go.Scatter(x=[low, high], y=[low, high], mode="lines", name="predicted = true", line={"dash": "dash"}),
    ])
    figure.update_layout(title=f"Predicted vs true {label} (test)", xaxis_title=f"true {label}",
                         yaxis_title=f"predicted {label}", template="plotly_white")
    return figure


TITLES = {"optimization_history": ("Optimisation history", "trial"), "rungs": ("Metric at each rung", "trial"),
          "learning_curves": ("Learning curves", "global step")}


def write_plots(folder: Path, result: LadderSweepResult, direction: str, monitor: str) -> list[Path]:
    """Write the PNG and HTML of each plot into `folder`; returns the paths."""
    import matplotlib  # plotting libraries load only when a plot is drawn

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # after use('Agg'): no display needed
    folder.mkdir(parents=True, exist_ok=True)
    data = series(result, direction, monitor)
    history, rungs, curves = data["history"], data["rungs"], data["curves"]
    written: list[Path] = []
    plotly = plotly_figures(result, direction, monitor)

    def save(name: str, figure) -> None:
        title, x = TITLES[name]
        axes = figure.axes[0]
        axes.set_title(title)
        axes.set_xlabel(x)
        axes.set_ylabel(monitor)
        if axes.get_legend_handles_labels()[0]:
            axes.legend(fontsize="small")
        figure.tight_layout()
        figure.savefig(folder / f"{name}.png", dpi=110)
        plt.close(figure)
        plotly[name].write_html(folder / f"{name}.html", include_plotlyjs=True, full_html=True)
        written.extend([folder / f"{name}.png", folder / f"{name}.html"])

    # optimisation history
    figure, axes = plt.subplots(figsize=(7, 4))
    for step in sorted({step for _, _, step in history}):
        points = [(n, m) for n, m, s in history if s == step]
        axes.scatter([n for n, _ in points], [m for _, m in points], label=f"stopped at step {step}", s=18)
    numbers = [n for n, _, _ in history]
    axes.step(numbers, data["best_so_far"], where="post", color="black", label="best at the top rung so far")
    save("optimization_history", figure)

    # metric per rung vs trial
    figure, axes = plt.subplots(figsize=(7, 4))
    for budget, points in rungs.items():
        axes.scatter([n for n, _ in points], [m for _, m in points], label=f"rung @ step {budget}", s=18)
    save("rungs", figure)

    # learning curves
    figure, axes = plt.subplots(figsize=(7, 4))
    first = min((c[-1][0] for c in curves.values()), default=0)
    for number, curve in sorted(curves.items()):
        promoted = curve[-1][0] > first  # label the trials that went past the first rung; the rest in grey
        axes.plot([s for s, _ in curve], [m for _, m in curve], marker=".", linewidth=1,
                  **({"label": f"trial {number}"} if promoted else {"color": "0.75", "zorder": 0}))
    save("learning_curves", figure)
    return written
