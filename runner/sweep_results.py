"""A finished sweep's results: its archived records put back, the terminal report, and its files
(sweep.json, leaderboard.csv, best_config.yaml, plots/)."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from activities.archive import read_archive
from activities.snapshot_files import META_FILE
from runner.best_config import write_best_config
from runner.budget_view import budget_line
from runner.pareto_view import front_view, goals, leader_order, print_front
from runner.pbt_view import EXPLOIT_KINDS, best_lineage, is_pbt
from runner.plots import write_plots
from runner.rung_noise import noisy_rungs, warning_line
from runner.rung_order import misranking_rungs, order_line
from runner.submit import console
from runner.sweep_accounting import footnote, outcome_line, settle_parked, sweep_json_fields
from runner.sweep_view import params_texts, print_summary, write_leaderboard
from runner.warm_view import warm_lines
from workflows.accounting import mixed_steps
from workflows.layout import SNAPSHOTS
from workflows.objectives import is_multi
from workflows.payloads.sweep import LadderSweepResult


def with_archive(result: LadderSweepResult) -> LadderSweepResult:
    """The sweep's result with the trials and decisions it archived put back: every trial (its latest
    record), every decision in order."""
    if not result.archive.parts:
        return result
    trials, decisions = read_archive(result.archive)
    decisions = [*decisions, *result.decisions]
    settle_parked([t for t in trials if t.state == "waiting"], decisions, result.stopped_by_user)
    merged = {t.number: t for t in trials} | {t.number: t for t in result.trials}
    return replace(result, trials=[merged[n] for n in sorted(merged)], decisions=decisions)


def report(
    workflow_id: str, result: LadderSweepResult, output_dir: Path, plain: dict[str, Any], config_repo: dict | None = None,
) -> None:
    """The end of a sweep in the terminal (its promotions, or a PBT sweep's exploits; failures, outcome,
    steps trained, leaderboard, the best trial and how to run its config) and its files
    (`write_sweep_files`)."""
    result = with_archive(result)
    shown = (*EXPLOIT_KINDS, "fail") if is_pbt(result.trials) else ("promote", "fail")  # PBT promotes every member
    for d in result.decisions:
        if d.kind in shown:
            console.print(f"rung {d.rung}: {d.kind} trial {d.trial} ({d.detail})", highlight=False, markup=False)
    full = max((row.budget_steps for row in result.rungs), default=0) * len(result.trials)
    for line in warm_lines(result.trials, result.decisions):  # what it took from earlier sweeps, enqueued
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    console.print(outcome_line(result), highlight=False, markup=False)
    if budget_line(result.budget, result.budget_used):
        console.print(budget_line(result.budget, result.budget_used), highlight=False, markup=False)
    console.print(f"steps trained: {result.total_steps} (every trial to the top rung: {full})", highlight=False)
    if footnote(mixed_steps(result.trials)):
        console.print(footnote(mixed_steps(result.trials)), highlight=False, markup=False)
    for line in noise_lines(result, plain):
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    write_sweep_files(output_dir, workflow_id, result, plain, config_repo)
    if result.best_trial < 0:
        console.print("no trial finished a rung", highlight=False)
        return
    print_summary(result, plain["direction"], plain["trainer"]["monitor"], leader_order(result.trials, plain))
    print_front(result, plain, params_texts(result.trials))
    console.print(f"sweep written to {output_dir} (sweep.json, leaderboard.csv, plots/)", highlight=False)
    path = output_dir / "best_config.yaml"
    console.print(f"run the best config: train-tune --config-dir {path.parent} --config-name {path.stem}",
                  highlight=False)


def noise_lines(result: LadderSweepResult, plain: dict[str, Any]) -> list[str]:
    """A warning per promoting rung whose monitored metric spreads within noise across its trials
    (`runner.rung_noise`), then per promoting rung that ranks the trials unlike the top rung
    (`runner.rung_order`); none for PBT (its members are not promoted), a rung probe's bracket (its trials all
    go on; the probe's decision says how its rungs ranked) or several objectives (ranked by Pareto order, not
    one metric)."""
    if is_pbt(result.trials) or is_multi(goals(plain)[0]):
        return []
    brackets = len({row.bracket for row in result.rungs})
    probed = {0} if any(d.kind == "probe" for d in result.decisions) else set()  # promotes every trial: no ranking
    rungs = [row for row in result.rungs if row.bracket not in probed]
    found = noisy_rungs(result.trials, rungs, plain["trainer"]["monitor"], validation_size(result, plain))
    return [*(warning_line(noisy, brackets) for noisy in found),
            *(order_line(rung, brackets) for rung in misranking_rungs(result.trials, rungs))]


def validation_size(result: LadderSweepResult, plain: dict[str, Any]) -> int | None:
    """Examples in the validation split of the sweep's snapshot, from its folder under `run_root` (None where
    this machine has no such folder, or the result predates `snapshot_id`)."""
    meta = Path(plain.get("run_root") or ".") / SNAPSHOTS / result.snapshot_id / META_FILE
    if not result.snapshot_id or not meta.is_file():
        return None
    try:
        size = json.loads(meta.read_text()).get("split_sizes", {}).get("validation")
    except (OSError, ValueError):
        return None
    return size if isinstance(size, int) and size > 0 else None


def write_sweep_files(output_dir: Path, workflow_id: str, result: LadderSweepResult, plain: dict[str, Any],
                      config_repo: dict | None = None) -> None:
    """sweep.json (trials, each PBT member's lineage among them, rungs, decision log, where the config came
    from, a PBT sweep's `best_lineage`: `runner.pbt_view.best_lineage`), leaderboard.csv,
    best_config.yaml and the plots."""
    output_dir.mkdir(parents=True, exist_ok=True)
    lineage = best_lineage(result)  # a PBT sweep's best trial: its lineage and its weights' schedule
    front = front_view(result, plain)  # several objectives: the front, its hypervolume, the weighted pick
    (output_dir / "sweep.json").write_text(json.dumps({"workflow_id": workflow_id, "config_repo": config_repo or {},
                                                      **sweep_json_fields(result), **asdict(result),
                                                      **({"best_lineage": lineage} if lineage else {}),
                                                      **({"pareto": front.as_json()} if front else {})}, indent=2))
    order = leader_order(result.trials, plain)
    by_number = {t.number: t for t in result.trials}
    write_leaderboard(output_dir / "leaderboard.csv", result, order, plain["trainer"]["monitor"])
    write_plots(output_dir / "plots", result, plain["direction"], plain["trainer"]["monitor"])
    if result.best_trial >= 0:
        best = by_number[result.best_trial]
        write_best_config(output_dir, workflow_id, plain, best, config_repo, by_number)

