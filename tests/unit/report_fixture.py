"""Sweep results to build reports from: a constructed successive-halving sweep with every record the report
reads (Lightning CSV logs in each trial's folder, proposal reasons, wall times, decisions, test metrics),
and the real result a recorded history of `LadderSweepWorkflow` returned (records from before proposal
reasons and wall times existed)."""

from __future__ import annotations

import base64
import json
import math
from pathlib import Path

from temporalio.api.common.v1 import Payload
from temporalio.converter import DataConverter

from workflows.payloads.messages import ClassMetrics, EvalResult
from workflows.payloads.records import Decision, TrialState
from workflows.payloads.sweep import LadderSweepResult, RungRow

HISTORIES = Path(__file__).parents[1] / "replay" / "histories"
PLAIN = {"trainer": {"monitor": "val_loss", "max_steps": 90}, "direction": "minimize", "experiment_name": "fixture",
         "optim": {"lr": 1e-3}, "ladder": {"kind": "sha"}, "search_space": {"params": []}}
RUNGS = [10, 30, 90]
START = 1_796_000_000.0
LRS = [3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 2e-3, 6e-4, 5e-5]
WARMUPS = [0.0, 0.05, 0.1, 0.02, 0.08, 0.01, 0.06, 0.03, 0.09]


def loss(lr: float, warmup: float, step: int) -> float:
    """A made-up validation loss: best near lr 1e-3 (decades away cost most), warmup matters a little,
    the scheduler not at all; it falls with the step."""
    return 0.4 + 0.5 * (math.log10(lr) + 3) ** 2 + 0.3 * warmup + 1.2 / (1 + step / 10)


def write_logs(folder: Path, lr: float, warmup: float, last: int) -> None:
    """Lightning's CSV log of a training to step `last`: train_loss every 5 steps, validation every 10
    (0-based steps, as Lightning writes them), one version folder per segment."""
    for version, (begin, end) in enumerate(zip([0, *RUNGS], [s for s in RUNGS if s <= last], strict=False)):
        rows = ["epoch,step,train_loss,val_accuracy,val_loss,val_macro_f1"]
        for step in range(begin + 5, end + 1, 5):
            value = loss(lr, warmup, step)
            rows.append(f"0,{step - 1},{value + 0.1:.6f},,,")
            if step % 10 == 0:
                rows.append(f"0,{step - 1},,{1 - value / 3:.6f},{value:.6f},{1 - value / 2.5:.6f}")
        (folder / "logs" / f"segment{version}").mkdir(parents=True)
        (folder / "logs" / f"segment{version}" / "metrics.csv").write_text("\n".join(rows) + "\n")


def constructed_sweep(tmp_path: Path) -> LadderSweepResult:
    """Nine trials, rungs at 10, 30 and 90 steps, the best third promoted at each: trials 0-4 proposed by
    TPE's start-up random sampling, 5-8 by TPE; the scheduler a constant (not ranked for importance)."""
    trials, decisions = [], []
    for n, (lr, warmup) in enumerate(zip(LRS, WARMUPS, strict=True)):
        decisions.append(Decision("propose", n, -1, f"optim.lr={lr} optim.warmup_ratio={warmup}"))
        trials.append(TrialState(number=n, params={"optim.lr": lr, "optim.warmup_ratio": warmup,
                                                   "optim.scheduler": "linear"},
                                 proposed_by="startup_random" if n < 5 else "tpe",
                                 checkpoint_dir=str(tmp_path / f"trial{n}")))
    for rung, step in enumerate(RUNGS):
        alive = [t for t in trials if len(t.rung_steps) == rung and (rung == 0 or t.state == "promoted")]
        for t in alive:
            value = loss(t.params["optim.lr"], t.params["optim.warmup_ratio"], step)
            t.metrics.append(value)
            t.rung_steps.append(step)
            t.rung, t.state = rung, "waiting"
            t.rung_metrics.append({"val_loss": value, "val_accuracy": 1 - value / 3, "val_macro_f1": 1 - value / 2.5})
            begin = START + 100 * t.number + 60 * rung
            t.segment_times.append([begin, begin + 5.0 * (step - ([0, *RUNGS][rung]))])
            decisions.append(Decision("rung_result", t.number, rung, f"val_loss {value:.4f} at step {step}"))
        ranked = sorted(alive, key=lambda t: t.metrics[-1])
        for i, t in enumerate(ranked):
            if rung == len(RUNGS) - 1:
                t.state, t.reason = "completed", "reached the top rung"
            elif i < len(alive) // 3:
                t.state = "promoted"
                decisions.append(Decision("promote", t.number, rung, "top third"))
            else:
                t.state, t.demoted = "stopped", True
                decisions.append(Decision("stop", t.number, rung, "below the top third"))
    for t in trials:
        write_logs(Path(t.checkpoint_dir), t.params["optim.lr"], t.params["optim.warmup_ratio"], t.rung_steps[-1])
    best = min((t for t in trials if len(t.metrics) == 3), key=lambda t: t.metrics[-1])
    test = EvalResult(split="test", num_examples=40, metrics={"accuracy": 0.825, "loss": 0.61, "macro_f1": 0.8},
                      per_class=[ClassMetrics("business", 0.8, 0.9, 0.85, 20), ClassMetrics("tech", 0.85, 0.75, 0.8, 20)])
    rows = [RungRow(0, r, s, sum(len(t.rung_steps) > r for t in trials), sum(len(t.rung_steps) > r + 1 for t in trials),
                    True) for r, s in enumerate(RUNGS)]
    return LadderSweepResult(trials=trials, decisions=decisions, best_trial=best.number, rungs=rows,
                             total_steps=sum(t.rung_steps[-1] for t in trials), best_test=test,
                             best_test_note=f"trial {best.number}'s best checkpoint on the test split")


def recorded(name: str, result_type: type):
    """The result a recorded workflow history ended with (tests/replay/histories/NAME.json)."""
    events = json.loads((HISTORIES / f"{name}.json").read_text())["events"]
    (completed,) = [e["workflowExecutionCompletedEventAttributes"] for e in events
                    if "workflowExecutionCompletedEventAttributes" in e]
    (raw,) = completed["result"]["payloads"]
    payload = Payload(metadata={k: base64.b64decode(v) for k, v in raw["metadata"].items()},
                      data=base64.b64decode(raw["data"]))
    return DataConverter.default.payload_converter.from_payloads([payload], [result_type])[0]


def recorded_sweep(name: str = "ladder_sweep_best_test") -> LadderSweepResult:
    """The result of a recorded LadderSweepWorkflow history."""
    return recorded(name, LadderSweepResult)
