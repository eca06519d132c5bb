"""The sweep report's plotly figures beyond `runner.plots`: parallel coordinates, parameter importance,
slices, learning curves with the rungs and promotions marked, training curves, the trials' timeline and
the Pareto front. Each takes plain values (`runner.report_data`) and returns a figure.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from runner.report_data import numeric, spans_decades, varied_params
from workflows.payloads.records import TrialState

HEIGHT = 380
GREY = "rgba(150,150,150,0.45)"
DARK_GREY = "rgba(90,90,90,0.6)"
STATE_COLOURS = {"completed": "#2a9d8f", "failed": "#e63946", "running": "#457b9d", "waiting": "#e9c46a",
                 "promoted": "#f4a261"}


def _layout(figure, title: str, **axes: Any):
    """The report's look: `title` is a small caption (the page's heading names the figure)."""
    figure.update_layout(title={"text": title, "font": {"size": 13}}, template="plotly_white", height=HEIGHT,
                         margin={"l": 60, "r": 20, "t": 50, "b": 50}, **axes)
    return figure


def restyle(figure, caption: str):
    """A figure of `runner.plots` in the report's look."""
    return _layout(figure, caption)


def _axis(values: list[Any]) -> tuple[list[float], dict[str, Any]]:
    """A parameter's values on a parallel-coordinates axis: numbers as they are (log10 where they span
    decades, labelled with the values), categories as their index, labelled with their names."""
    if spans_decades(values):
        low, high = math.log10(min(values)), math.log10(max(values))
        ticks = list(range(math.ceil(low), math.floor(high) + 1))
        return [math.log10(v) for v in values], {"tickvals": ticks, "ticktext": [f"1e{t}" for t in ticks]}
    if numeric(values):
        return [float(v) for v in values], {}
    names = sorted({str(v) for v in values})
    return [float(names.index(str(v))) for v in values], {"tickvals": list(range(len(names))), "ticktext": names}


def parallel_coordinates(trials: list[TrialState], values: dict[int, float], monitor: str, step: int, direction: str):
    """One line per trial with a result at `step`: its parameters, the highest step it reached, and the
    monitored metric there (the line's colour, the best end of the scale in yellow)."""
    import plotly.graph_objects as go  # plotting libraries load only when a report is written

    scored = [t for t in trials if t.number in values]
    dimensions = []
    for key in varied_params(scored):
        shown, ticks = _axis([t.params.get(key, "-") for t in scored])
        dimensions.append({"label": key, "values": shown, **ticks})
    dimensions.append({"label": "top step", "values": [t.rung_steps[-1] for t in scored]})
    objective = [values[t.number] for t in scored]
    dimensions.append({"label": f"{monitor} @ {step}", "values": objective})
    figure = go.Figure(go.Parcoords(dimensions=dimensions, line={
        "color": objective, "colorscale": "Viridis", "reversescale": direction == "minimize", "showscale": True}))
    _layout(figure, f"{len(scored)} trials' parameters and {monitor} at step {step}; drag along an axis to filter")
    figure.update_layout(margin={"l": 80, "r": 40, "t": 90, "b": 30})
    return figure


def importance_figure(ranked: dict[str, float], note: str):
    import plotly.graph_objects as go  # plotting libraries load only when a report is written

    names = list(ranked)[::-1]  # the most important on top
    figure = go.Figure(go.Bar(x=[ranked[n] for n in names], y=names, orientation="h", text=[f"{ranked[n]:.2f}" for n in names],
                              textposition="auto", marker_color="#457b9d"))
    _layout(figure, note.replace("; ", "<br>"), xaxis_title="importance (sums to 1)")
    figure.update_yaxes(automargin=True)
    figure.update_layout(margin={"t": 70})
    return figure


def slice_figure(trials: list[TrialState], values: dict[int, float], monitor: str, step: int):
    """The monitored metric at `step` against each parameter, one panel per parameter, coloured by trial
    number (later trials darker)."""
    import plotly.graph_objects as go  # plotting libraries load only when a report is written
    from plotly.subplots import make_subplots

    scored = [t for t in trials if t.number in values]
    keys = varied_params(scored)
    columns = min(len(keys), 3) or 1
    rows = -(-len(keys) // columns) or 1
    figure = make_subplots(rows=rows, cols=columns, subplot_titles=keys, shared_yaxes=True)
    for i, key in enumerate(keys):
        points = [t for t in scored if key in t.params]
        figure.add_trace(go.Scatter(
            x=[t.params[key] for t in points], y=[values[t.number] for t in points], mode="markers",
            text=[f"trial {t.number}" for t in points], showlegend=False,
            marker={"color": [t.number for t in points], "colorscale": "Blues", "cmin": -len(trials) // 2,
                    "size": 8, "line": {"width": 0.5, "color": "#333"}}), row=i // columns + 1, col=i % columns + 1)
        if spans_decades([t.params[key] for t in points]):
            figure.update_xaxes(type="log", dtick=1, exponentformat="e", row=i // columns + 1, col=i % columns + 1)
    figure.update_yaxes(title_text=f"{monitor} @ {step}", col=1)
    _layout(figure, f"{monitor} at step {step} against each parameter that varied (later trials darker)")
    figure.update_layout(height=HEIGHT * max(rows, 1) * 0.85)
    return figure


def curves_figure(curves: dict[int, list[tuple[int, float]]], monitor: str, budgets: list[int],
                  promoted: set[tuple[int, int]]):
    """Every trial's validation curve (the trials the ladder promoted in colour, the rest grey), a dashed
    line at each rung's budget, a star where a trial was promoted."""
    import plotly.graph_objects as go  # plotting libraries load only when a report is written

    figure = go.Figure()
    went_on = {number for number, _ in promoted}
    for number, curve in sorted(curves.items()):
        on = number in went_on
        figure.add_trace(go.Scatter(
            x=[s for s, _ in curve], y=[m for _, m in curve], mode="lines+markers", name=f"trial {number}",
            showlegend=on, legendgroup=str(number), marker={"size": 4} if on else {"size": 7, "color": DARK_GREY},
            line={"width": 1.5} if on else {"width": 1, "color": GREY}))
    stars = [(n, s, dict(curves[n]).get(s)) for n, s in sorted(promoted) if n in curves]
    stars = [(n, s, v) for n, s, v in stars if v is not None]
    figure.add_trace(go.Scatter(x=[s for _, s, _ in stars], y=[v for _, _, v in stars], mode="markers",
                                name="promoted", text=[f"trial {n} promoted at step {s}" for n, s, _ in stars],
                                marker={"symbol": "star", "size": 12, "color": "#e76f51", "line": {"width": 1}}))
    for budget in budgets:
        figure.add_vline(x=budget, line_dash="dash", line_color="#999", annotation_text=f"rung {budget}",
                         annotation_position="top left")
    return _layout(figure, f"{monitor} of {len(curves)} trials (promoted ones in colour); rungs dashed, promotions starred",
                   xaxis_title="global step", yaxis_title=monitor)


def training_figure(curves: dict[int, dict[str, list[tuple[int, float]]]]):
    """Training loss and validation accuracy against the step, one line per trial in both panels."""
    import plotly.graph_objects as go  # plotting libraries load only when a report is written
    from plotly.colors import qualitative
    from plotly.subplots import make_subplots

    figure = make_subplots(rows=1, cols=2, subplot_titles=["train_loss", "val_accuracy"])
    palette = qualitative.Plotly
    for i, (number, metrics) in enumerate(sorted(curves.items())):
        for col, name in enumerate(("train_loss", "val_accuracy"), 1):
            curve = metrics.get(name, [])
            if curve:
                figure.add_trace(go.Scatter(
                    x=[s for s, _ in curve], y=[m for _, m in curve], mode="lines+markers", name=f"trial {number}",
                    marker={"size": 3},
                    legendgroup=str(number), showlegend=col == 1, line={"width": 1, "color": palette[i % len(palette)]}),
                    row=1, col=col)
    figure.update_xaxes(title_text="global step")
    return _layout(figure, "logged by Lightning in each trial's CSV log")


def timeline_figure(rows: list[dict[str, Any]]):
    """Each train segment as a bar from its start to its end in wall time, one line per trial."""
    import plotly.graph_objects as go  # plotting libraries load only when a report is written

    figure = go.Figure()
    for state in sorted({row["state"] for row in rows}):
        mine = [row for row in rows if row["state"] == state]
        figure.add_trace(go.Bar(
            y=[f"trial {row['trial']}" for row in mine], x=[(row["end"] - row["start"]) * 1000 for row in mine],
            base=[datetime.fromtimestamp(row["start"], UTC).isoformat() for row in mine], orientation="h",
            name=state, marker_color=STATE_COLOURS.get(state, GREY),
            hovertext=[f"trial {row['trial']} segment {row['segment']}: {row['end'] - row['start']:.1f} s" for row in mine]))
    figure.update_xaxes(type="date")
    figure.update_yaxes(autorange="reversed", type="category")
    _layout(figure, "each trial's train segments over wall time (UTC), coloured by the trial's state", barmode="overlay")
    figure.update_layout(height=max(HEIGHT, 22 * len({row["trial"] for row in rows}) + 120))
    return figure


def pareto_figure(points: dict[int, list[float]], front: list[int], names: list[str], infeasible: list[int] | None = None):
    """The first two objectives against each other: the front's trials joined and marked, the other
    feasible trials grey, the infeasible ones as crosses."""
    import plotly.graph_objects as go  # plotting libraries load only when a report is written

    infeasible = infeasible or []
    others = [n for n in sorted(points) if n not in front and n not in infeasible]
    ordered = sorted(front, key=lambda n: points[n][0])
    traces = [
        go.Scatter(x=[points[n][0] for n in others], y=[points[n][1] for n in others], mode="markers", name="trials",
                   text=[f"trial {n}" for n in others], marker={"color": GREY, "size": 8}),
        go.Scatter(x=[points[n][0] for n in ordered], y=[points[n][1] for n in ordered], mode="lines+markers",
                   name="Pareto front", text=[f"trial {n}" for n in ordered], marker={"size": 10, "color": "#e76f51"})]
    if infeasible:
        traces.append(go.Scatter(x=[points[n][0] for n in infeasible], y=[points[n][1] for n in infeasible],
                                 mode="markers", name="infeasible", text=[f"trial {n}" for n in infeasible],
                                 marker={"symbol": "x", "color": DARK_GREY, "size": 8}))
    return _layout(go.Figure(traces), f"{len(front)} of {len(points)} trials on the front", xaxis_title=names[0],
                   yaxis_title=names[1])


def hypervolume_figure(curve: list[tuple[int, float]]):
    """The hypervolume of the results so far against the steps trained (objectives scaled to [0, 1])."""
    import plotly.graph_objects as go  # plotting libraries load only when a report is written

    figure = go.Figure(go.Scatter(x=[s for s, _ in curve], y=[v for _, v in curve], mode="lines+markers",
                                  line={"shape": "hv"}, name="hypervolume"))
    return _layout(figure, "hypervolume of the feasible results at the front's step (reference 1.1 per scaled "
                   "objective)", xaxis_title="steps trained", yaxis_title="hypervolume")
