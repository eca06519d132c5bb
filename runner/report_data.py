"""The data behind the sweep report's summary and search-space views, as plain values tests can check:

- the step trials are compared at (`comparison_step`): the rung step most trials reported at, so every
  value compared was trained for the same budget (a ladder's later rungs hold only the promoted few);
- parameter importance there (`importances`): Optuna's fANOVA evaluator on an in-memory study of those
  trials, or a one-line note saying why there is none;
- the trials' states and how they were proposed (`state_counts`, `proposal_counts`), promotions
  (`promotions`), wall-time segments (`timeline_rows`);
- the Pareto front of several objectives (`pareto_front`);
- a multirun's jobs grouped over seeds (`seed_groups`): mean and spread of each test metric per setting.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

from runner.sweep_accounting import STOPPED_TEXT, stopped_by
from workflows.payloads.records import TrialState
from workflows.payloads.runs import CoordinatorStatus
from workflows.payloads.sweep import LadderSweepResult

NOT_RECORDED = "not recorded"
"""The proposal reason of trials recorded before it was (`TrialState.proposed_by`)."""


def comparison_step(trials: list[TrialState]) -> int:
    """The rung step with the most finite results (the higher one on a tie); 0 when none has any."""
    counts: dict[int, int] = {}
    for t in trials:
        for step, value in zip(t.rung_steps, t.metrics, strict=False):
            if math.isfinite(value):
                counts[step] = counts.get(step, 0) + 1
    return max(counts, key=lambda step: (counts[step], step), default=0)


def values_at(trials: list[TrialState], step: int, metric: str = "") -> dict[int, float]:
    """Trial number -> its finite result at `step`: the monitored metric, or `metric` from its rung metrics."""
    out: dict[int, float] = {}
    for t in trials:
        for rung, (at, monitored) in enumerate(zip(t.rung_steps, t.metrics, strict=False)):
            recorded = t.rung_metrics[rung] if rung < len(t.rung_metrics) else {}
            value = recorded.get(metric, math.nan) if metric else monitored
            if at == step and math.isfinite(value):
                out[t.number] = value
    return out


def varied_params(trials: list[TrialState]) -> list[str]:
    """The parameters that took more than one value among `trials` (a constant one explains nothing)."""
    keys = sorted({k for t in trials for k in t.params})
    return [k for k in keys if len({str(t.params.get(k)) for t in trials}) > 1]


def numeric(values: list[Any]) -> bool:
    return bool(values) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def spans_decades(values: list[Any]) -> bool:
    """Positive numbers two decades or more apart (learning rates and the like): shown and modelled on a
    log scale."""
    return numeric(values) and min(values) > 0 and max(values) / min(values) >= 100


def _distribution(values: list[Any]):
    import optuna  # slow to import, only for the report's importance section

    if numeric(values):
        low, high = min(values), max(values)
        if all(isinstance(v, int) for v in values):
            return optuna.distributions.IntDistribution(int(low), int(high))
        return optuna.distributions.FloatDistribution(float(low), float(high), log=spans_decades(values))
    return optuna.distributions.CategoricalDistribution(sorted({str(v) for v in values}))


def importances(trials: list[TrialState], step: int, direction: str) -> tuple[dict[str, float], str]:
    """(parameter -> importance, best first, summing to 1; a note on what they were computed from or why
    there are none). Optuna's fANOVA evaluator (seeded, so the same trials give the same figures) on an
    in-memory study holding each trial's result at `step`; parameters that never varied are left out."""
    values = values_at(trials, step)
    scored = [t for t in trials if t.number in values]
    if len(scored) < 2:
        return {}, f"parameter importance needs at least 2 trials with a result at step {step}; {len(scored)} have one"
    varied = varied_params(scored)
    constant = sorted({k for t in scored for k in t.params} - set(varied))
    if not varied:
        return {}, f"every parameter had one value across the {len(scored)} trials: nothing to rank"
    if len(set(values.values())) == 1:
        return {}, f"all {len(scored)} trials scored the same at step {step}: no parameter explains a difference"
    import optuna  # slow to import, only for the report's importance section

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    dists = {k: _distribution([t.params[k] for t in scored if k in t.params]) for k in varied}
    study = optuna.create_study(direction="maximize" if direction == "maximize" else "minimize")
    for t in scored:
        params = {k: (str(t.params[k]) if isinstance(dists[k], optuna.distributions.CategoricalDistribution)
                      else t.params[k]) for k in varied if k in t.params}
        study.add_trial(optuna.trial.create_trial(params=params, distributions={k: dists[k] for k in params},
                                                  value=values[t.number]))
    ranked = optuna.importance.get_param_importances(
        study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0))
    note = f"fANOVA (Optuna) over {len(scored)} trials' results at step {step}"
    if constant:
        note += f"; constant, not ranked: {', '.join(constant)}"
    return {k: float(v) for k, v in ranked.items()}, note


def state_label(t: TrialState, sweep_stopped: bool) -> str:
    """A trial's state for the summary: its state, and for a stopped one who stopped it."""
    who = stopped_by(t, sweep_stopped)
    return f"stopped ({STOPPED_TEXT[who]})" if who else t.state


def state_counts(result: LadderSweepResult) -> dict[str, int]:
    counts: dict[str, int] = {}
    for t in result.trials:
        label = state_label(t, result.stopped)
        counts[label] = counts.get(label, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def proposal_counts(trials: list[TrialState]) -> dict[str, int]:
    """How many trials each way of proposing gave (`TrialState.proposed_by`; 'not recorded' for older
    records and trials not proposed yet)."""
    counts: dict[str, int] = {}
    for t in trials:
        reason = t.proposed_by or NOT_RECORDED
        counts[reason] = counts.get(reason, 0) + 1
    return dict(sorted(counts.items()))


def promotions(result: LadderSweepResult) -> set[tuple[int, int]]:
    """(trial, global step) where the ladder promoted a trial: its `promote` decisions, and every rung a
    trial went past (records whose decisions were not kept)."""
    by_number = {t.number: t for t in result.trials}
    points = {(t.number, step) for t in result.trials for step in t.rung_steps[:-1]}
    for d in result.decisions:
        t = by_number.get(d.trial)
        if d.kind == "promote" and t is not None and 0 <= d.rung < len(t.rung_steps):
            points.add((d.trial, t.rung_steps[d.rung]))
    return points


def timeline_rows(result: LadderSweepResult) -> list[dict[str, Any]]:
    """One row per train segment with recorded wall times: trial, segment, start, end (seconds since the
    epoch; a running segment ends at the latest time recorded), state label."""
    latest = max((max(span) for t in result.trials for span in t.segment_times), default=0.0)
    return [{"trial": t.number, "segment": i, "start": start, "end": end or latest,
             "state": state_label(t, result.stopped)}
            for t in result.trials for i, (start, end) in enumerate(t.segment_times)]


def _without_seed(overrides: list[str]) -> tuple[str, ...]:
    return tuple(o for o in overrides if o.lstrip("+~").split("=", 1)[0] != "seed")


def seed_groups(status: CoordinatorStatus) -> list[dict[str, Any]]:
    """A multirun's completed jobs grouped by their overrides other than `seed`, where some setting ran
    with more than one seed: per setting its seeds, runs and each test metric's mean, standard deviation
    (sample; 0 for one run), min and max. Empty when no setting repeats over seeds."""
    groups: dict[tuple[str, ...], list[Any]] = {}
    for job in status.jobs:
        groups.setdefault(_without_seed(job.overrides), []).append(job)
    if not any(len({tuple(j.overrides) for j in jobs}) > 1 for jobs in groups.values()):
        return []
    shared = set.intersection(*(set(key) for key in groups)) if len(groups) > 1 else set()
    rows = []
    for key, jobs in groups.items():
        done = [j for j in jobs if j.metrics]
        row: dict[str, Any] = {
            "setting": " ".join(o for o in key if o not in shared) or "-",
            "seeds": " ".join(o.split("=", 1)[1] for j in jobs for o in j.overrides if o not in key) or "-",
            "runs": f"{len(done)} of {len(jobs)}"}
        for name in sorted({n for j in done for n in j.metrics}):
            values = [j.metrics[name] for j in done if name in j.metrics]
            row[f"test_{name}"] = {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1
                                   else 0.0, "min": min(values), "max": max(values)}
        rows.append(row)
    return rows
