"""A population-based training sweep's part of the report (`runner.report_sweep`; the lineages:
`runner.pbt_view`):

- lineage: one row per member over the global step, a marker at each perturbation boundary coloured by
  the monitored metric there, an arrow from the source's row to the target's at each exploit (coloured by
  the source's score; dotted while it is pending), and the best trial's weights traced back through the
  members they came from;
- hyperparameter schedules: per searched key, one step line per member (what it trained with from each
  step on; log y for the keys the space searches on a log scale, or whose values span decades) and the
  best trial's weights' schedule (`runner.pbt_view.ancestry`);
- learning curves: every member in colour, the boundaries dashed, a cross where a member took another's
  weights (the curve jumps there);
- the exploit decisions' table (exploit and exploit_skip, with their old -> new values).
"""

from __future__ import annotations

import math
from typing import Any

from runner.pbt_view import ancestry, exploit_rows, last_step, schedule, source_of, steps_of
from runner.report_data import spans_decades
from runner.report_html import table
from runner.report_plots import HEIGHT, restyle
from workflows.payloads.records import PbtStep, TrialState
from workflows.payloads.sweep import LadderSweepResult

BEST = "#e76f51"
SCALE = "Viridis"


def exploits(trials: list[TrialState]) -> list[tuple[TrialState, PbtStep, bool]]:
    """(target, its step, pending) of every exploit: applied (lineage entries after the first) and pending."""
    applied = [(t, s, False) for t in trials for s in steps_of(t)[1:]]
    return [*applied, *((t, t.pending_exploit, True) for t in trials if t.pending_exploit is not None)]


def log_keys(config: dict[str, Any]) -> set[str]:
    """The keys the sweep's space searches on a log scale (`search_space.params[].log`)."""
    params = (config.get("search_space") or {}).get("params") or []
    return {p["key"] for p in params if isinstance(p, dict) and p.get("log") and "key" in p}


def _colour(value: float | None, low: float, high: float, direction: str) -> str:
    """`value` on the colour scale of the boundary markers (the best end yellow), grey when unknown."""
    from plotly.colors import sample_colorscale

    if value is None or not math.isfinite(value):
        return "rgba(120,120,120,0.8)"
    share = 0.5 if high <= low else (value - low) / (high - low)
    return sample_colorscale(SCALE, [1 - share if direction == "minimize" else share])[0]


def _weights_path(by_number: dict[int, TrialState], best: int) -> tuple[list[int], list[int]]:
    """(steps, members) of the line the best trial's weights took through the members' rows."""
    stretches = ancestry(by_number, best)
    ends = [*(start for start, _, _ in stretches[1:]), last_step(by_number[best])] if stretches else []
    xs: list[int] = []
    ys: list[int] = []
    for (start, member, _), end in zip(stretches, ends, strict=True):
        xs += [start, end]
        ys += [member, member]
    return xs, ys


def lineage_figure(result: LadderSweepResult, monitor: str, direction: str):
    import plotly.graph_objects as go  # plotting libraries load only when a report is written

    trials = sorted(result.trials, key=lambda t: t.number)
    by_number = {t.number: t for t in trials}
    figure = go.Figure()
    for t in trials:  # each member's row, from its start to its last step
        figure.add_trace(go.Scatter(x=[0, last_step(t)], y=[t.number, t.number], mode="lines", showlegend=False,
                                    hoverinfo="skip", line={"color": "rgba(150,150,150,0.5)", "width": 6}))
    if result.best_trial in by_number:  # a band under the rows, the arrows and the scores
        xs, ys = _weights_path(by_number, result.best_trial)
        figure.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=f"best trial {result.best_trial}'s weights",
                                    hoverinfo="name", line={"color": BEST, "width": 9}, opacity=0.35))
    points = [(t.number, step, value) for t in trials for step, value in zip(t.rung_steps, t.metrics, strict=False)
              if math.isfinite(value)]
    values = [v for _, _, v in points]
    low, high = min(values, default=0.0), max(values, default=0.0)
    figure.add_trace(go.Scatter(x=[None], y=[None], mode="lines+markers", name="exploit: from source to target",
                                line={"color": "#555", "width": 3}, marker={"symbol": "arrow", "size": 12,
                                                                           "color": "#555", "angle": 90}))
    at_step: dict[int, int] = {}
    span = max((last_step(t) for t in trials), default=1) or 1
    for target, step, pending in exploits(trials):
        nudge = at_step.get(step.step, 0)  # exploits at one boundary side by side, not on top of each other
        at_step[step.step] = nudge + 1
        x = step.step + nudge * span * 0.012
        score, colour = "?" if step.source_score is None else f"{step.source_score:.4f}", \
            _colour(step.source_score, low, high, direction)
        figure.add_trace(go.Scatter(
            x=[x, x], y=[step.source, target.number], mode="lines+markers", showlegend=False,
            name=f"member {step.source} -> member {target.number} at step {step.step}" + (" (pending)" if pending else ""),
            hovertext=f"member {target.number} takes member {step.source}'s weights ({monitor} {score}) at step "
                      f"{step.step}" + (" (pending)" if pending else ""), hoverinfo="text",
            line={"color": colour, "width": 3, "dash": "dot" if pending else "solid"},
            marker={"symbol": ["circle", "arrow"], "angleref": "previous", "size": [7, 17], "color": colour,
                    "line": {"width": 0.5, "color": "#333"}}))
    figure.add_trace(go.Scatter(
        x=[s for _, s, _ in points], y=[n for n, _, _ in points], mode="markers", name=monitor,
        text=[f"member {n} at step {s}: {monitor} {v:.4f}" for n, s, v in points], hoverinfo="text",
        marker={"color": values, "colorscale": SCALE, "reversescale": direction == "minimize", "showscale": True,
                "size": 11, "colorbar": {"title": {"text": monitor}}, "line": {"width": 0.5, "color": "#333"}}))
    figure.update_yaxes(tickvals=[t.number for t in trials], ticktext=[f"member {t.number}" for t in trials],
                        autorange="reversed", title_text="member")
    restyle(figure, f"whose weights each member carries: an arrow from source to target at each exploit; markers: "
                    f"{monitor} at each boundary")
    figure.update_layout(height=max(HEIGHT, 34 * len(trials) + 140), legend={"orientation": "h", "y": -0.2},
                         xaxis_title="global step")
    return figure


def _step_line(stretches: list[tuple[int, dict[str, Any]]], key: str, end: int) -> tuple[list[int], list[Any]]:
    """(steps, values) of `key` over `stretches` (from step, parameters), held to `end`."""
    shown = [(step, params[key]) for step, params in stretches if key in params]
    if shown:
        shown.append((max(end, shown[-1][0]), shown[-1][1]))  # the last value holds to its last step
    return [s for s, _ in shown], [v for _, v in shown]


def schedules_figure(result: LadderSweepResult, logs: set[str]):
    import plotly.graph_objects as go  # plotting libraries load only when a report is written
    from plotly.colors import qualitative
    from plotly.subplots import make_subplots

    trials = sorted(result.trials, key=lambda t: t.number)
    by_number = {t.number: t for t in trials}
    keys = sorted({k for t in trials for s in steps_of(t) for k in s.params})
    figure = make_subplots(rows=max(len(keys), 1), cols=1, shared_xaxes=True, subplot_titles=keys,
                           vertical_spacing=0.12 / max(len(keys), 1))
    best = result.best_trial if result.best_trial in by_number else None
    weights = [(start, params) for start, _, params in ancestry(by_number, best)] if best is not None else []
    palette = qualitative.Plotly
    for row, key in enumerate(keys, 1):
        for i, t in enumerate(trials):
            xs, ys = _step_line(schedule(t), key, last_step(t))
            figure.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", line_shape="hv", name=f"member {t.number}",
                                        legendgroup=str(t.number), showlegend=row == 1, marker={"size": 5},
                                        line={"width": 1.5, "color": palette[i % len(palette)]}), row=row, col=1)
        if best is not None:
            xs, ys = _step_line(weights, key, last_step(by_number[best]))
            figure.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line_shape="hv", name=f"best trial {best}'s weights",
                                        legendgroup="best", showlegend=row == 1,
                                        line={"width": 3, "color": BEST, "dash": "dash"}), row=row, col=1)
        values = [s.params[key] for t in trials for s in steps_of(t) if key in s.params]
        positive = all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in values)
        if positive and (key in logs or spans_decades(values)):
            figure.update_yaxes(type="log", dtick=1, exponentformat="e", row=row, col=1)
    figure.update_xaxes(title_text="global step", row=max(len(keys), 1), col=1)
    restyle(figure, "each member's searched parameters from each step on; dashed: the schedule the best trial's "
                    "weights were trained with")
    figure.update_layout(height=max(HEIGHT, 240 * len(keys) + 100))
    return figure


def curves_figure(curves: dict[int, list[tuple[int, float]]], monitor: str, budgets: list[int],
                  trials: list[TrialState]):
    """Every member's validation curve in colour, the boundaries dashed, a cross where it took another
    member's weights."""
    import plotly.graph_objects as go  # plotting libraries load only when a report is written

    figure = go.Figure()
    for number, curve in sorted(curves.items()):
        figure.add_trace(go.Scatter(x=[s for s, _ in curve], y=[m for _, m in curve], mode="lines+markers",
                                    name=f"trial {number}", marker={"size": 4}, line={"width": 1.5}))
    marks = [(t.number, s.step, source_of(t, s), dict(curves.get(t.number, [])).get(s.step))
             for t, s, pending in exploits(trials) if not pending]
    marks = [(n, step, source, v) for n, step, source, v in marks if v is not None]
    figure.add_trace(go.Scatter(x=[s for _, s, _, _ in marks], y=[v for _, _, _, v in marks], mode="markers",
                                name="took another member's weights",
                                text=[f"member {n} takes member {source}'s weights at step {s}" for n, s, source, _ in marks],
                                marker={"symbol": "x", "size": 11, "color": BEST}))
    for budget in budgets:
        figure.add_vline(x=budget, line_dash="dash", line_color="#999")
    restyle(figure, f"{monitor} of {len(curves)} members; boundaries dashed, exploits crossed")
    figure.update_layout(xaxis_title="global step", yaxis_title=monitor)
    return figure


def exploit_part(result: LadderSweepResult) -> list[str]:
    """The exploit and exploit_skip decisions (every member's, in order) as a table."""
    rows = exploit_rows(result)
    return [f"<h2 id='exploits-section'>Exploit and explore ({len(rows)} decisions)</h2><div class='scroll'>",
            table(rows, ["kind", "member", "rung", "step", "detail"], "exploits"), "</div>"]


def pbt_figures(result: LadderSweepResult, config: dict[str, Any]) -> dict[str, Any]:
    """The lineage and the hyperparameter schedules, by the names `runner.report_sweep.TITLES` gives them."""
    direction = config.get("direction", "minimize")
    monitor = (config.get("trainer") or {}).get("monitor", "val_loss")
    return {"lineage": lineage_figure(result, monitor, direction), "schedules": schedules_figure(result, log_keys(config))}
