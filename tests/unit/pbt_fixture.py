"""A population-based training sweep's result to build results and reports from: four members, boundaries
at 100, 200 and 300 steps, three exploits and one skip, recorded as `workflows.schedulers.pbt_scheduler`
records them (lineage entries, exploit decisions with their old -> new values), with Lightning CSV logs in
each member's folder.

    member 0: 0@0                 (never exploits)
    member 1: 1@0 -> 3@200        (the best at 300: member 3's weights, which were member 0's until 100)
    member 2: 2@0 -> 1@100
    member 3: 3@0 -> 0@100
"""

from __future__ import annotations

from pathlib import Path

from workflows.payloads.records import Decision, PbtStep, TrialState
from workflows.payloads.sweep import LadderSweepResult, RungRow

BOUNDARIES = [100, 200, 300]
LOSSES = {0: [0.80, 0.70, 0.65], 1: [0.90, 0.75, 0.50], 2: [1.30, 0.72, 0.68], 3: [1.20, 0.60, 0.55]}
START = {0: {"optim.lr": 1e-3, "optim.warmup_ratio": 0.06}, 1: {"optim.lr": 3e-3, "optim.warmup_ratio": 0.0},
         2: {"optim.lr": 1e-4, "optim.warmup_ratio": 0.1}, 3: {"optim.lr": 2e-4, "optim.warmup_ratio": 0.0}}
EXPLOITS = [  # (rung, target, source, new params, how)
    (0, 3, 0, {"optim.lr": 1.2e-3, "optim.warmup_ratio": 0.06}, {"optim.lr": "x1.2", "optim.warmup_ratio": "keep"}),
    (0, 2, 1, {"optim.lr": 2.4e-3, "optim.warmup_ratio": 0.1}, {"optim.lr": "x0.8", "optim.warmup_ratio": "resample"}),
    (1, 1, 3, {"optim.lr": 9.6e-4, "optim.warmup_ratio": 0.06}, {"optim.lr": "x0.8", "optim.warmup_ratio": "keep"}),
]
LINEAGES = {0: "0@0", 1: "1@0 -> 3@200", 2: "2@0 -> 1@100", 3: "3@0 -> 0@100"}
"""Each member's lineage as the results show it."""
PLAIN = {"trainer": {"monitor": "val_loss", "max_steps": 300}, "direction": "minimize", "experiment_name": "pbt",
         "optim": {"lr": 1e-3}, "ladder": {"kind": "pbt", "population": 4},
         "search_space": {"params": [{"key": "optim.lr", "type": "float", "low": 1e-4, "high": 3e-3, "log": True},
                                     {"key": "optim.warmup_ratio", "type": "categorical",
                                      "choices": [0.0, 0.06, 0.1]}]}}


def fmt(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def write_logs(folder: Path, losses: list[float]) -> None:
    """A member's CSV log: one version folder per segment, a validation at each boundary (0-based steps)."""
    for segment, (step, value) in enumerate(zip(BOUNDARIES, losses, strict=True)):
        version = folder / "logs" / f"version_{segment}"
        version.mkdir(parents=True)
        (version / "metrics.csv").write_text(f"epoch,step,train_loss,val_loss\n0,{step - 51},{value + 0.2},\n"
                                             f"0,{step - 1},,{value}\n")


def pbt_sweep(tmp_path: Path) -> LadderSweepResult:
    trials = {n: TrialState(number=n, params=dict(START[n]), state="completed", rung=2, bracket=0,
                            metrics=list(LOSSES[n]), rung_steps=list(BOUNDARIES), proposed_by="random",
                            checkpoint_dir=str(tmp_path / f"trial{n}"), checkpoint=str(tmp_path / f"trial{n}/last.ckpt"),
                            steps_trained=300, lineage=[PbtStep(step=0, source=n, params=dict(START[n]))],
                            rung_metrics=[{"val_loss": v} for v in LOSSES[n]])
              for n in range(4)}
    decisions = [Decision("propose", n, -1, "random") for n in range(4)]
    for rung, step in enumerate(BOUNDARIES):
        decisions += [Decision("rung_result", n, rung, f"val_loss {LOSSES[n][rung]} at step {step}") for n in range(4)]
        for target, source, params, how in [(t, s, p, h) for r, t, s, p, h in EXPLOITS if r == rung]:
            old = trials[target].params
            changes = ", ".join(f"{k} {fmt(trials[source].params[k])} -> {fmt(params[k])} ({how[k]})" for k in how)
            decisions.append(Decision("exploit", target, rung, f"member {target} ({fmt(LOSSES[target][rung])}) copies "
                                      f"member {source} ({fmt(LOSSES[source][rung])}) at step {step}; {changes}; "
                                      f"bottom 25%"))
            trials[target].lineage.append(PbtStep(step=step, source=source, params=dict(params), how=dict(how),
                                                  source_score=LOSSES[source][rung]))
            trials[target].params = dict(params)
            assert old != params
        if rung == 1:
            decisions.append(Decision("exploit_skip", 0, rung, "no top member had a verified checkpoint at step 200"))
        if rung < 2:
            decisions += [Decision("promote", n, rung, "population-based training: every member goes on") for n in range(4)]
    for n, t in trials.items():
        write_logs(Path(t.checkpoint_dir), LOSSES[n])
    rows = [RungRow(0, r, s, 4, 4 if r < 2 else 0, True) for r, s in enumerate(BOUNDARIES)]
    return LadderSweepResult(trials=list(trials.values()), decisions=decisions, best_trial=1, total_steps=1200, rungs=rows)
