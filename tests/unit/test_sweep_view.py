"""Every validation metric per rung and the best trial's test metrics, as the terminal tables,
leaderboard.csv, sweep.json and the HTML report show them (records as a sweep returns them; a sweep
recorded before the metrics existed shows only its monitored one)."""

from __future__ import annotations

import csv
import json

from rich.console import Console

from runner.report import write_report
from runner.sweep_results import write_sweep_files
from runner.sweep_view import leaderboard_table, print_summary
from runner.sweep_watch import trial_table
from workflows.payloads.messages import ClassMetrics, EvalResult
from workflows.payloads.records import TrialState
from workflows.payloads.sweep import LadderSweepResult

PLAIN = {"trainer": {"monitor": "val_loss", "max_steps": 20}, "direction": "minimize", "experiment_name": "view",
         "optim": {"lr": 1e-3}, "ladder": {"kind": "sha"}, "search_space": {"params": []}}


def metrics(loss: float, accuracy: float, f1: float) -> dict[str, float]:
    return {"val_accuracy": accuracy, "val_loss": loss, "val_macro_f1": f1}


def result(tmp_path, with_metrics: bool = True) -> LadderSweepResult:
    def trial(number: int, losses: list[float], accuracies: list[float], state: str) -> TrialState:
        return TrialState(
            number=number, params={"optim.lr": 0.001 * (number + 1)}, state=state, rung=len(losses) - 1,
            metrics=losses, rung_steps=[10, 20][:len(losses)], checkpoint=f"{tmp_path}/trial{number}/last.ckpt",
            checkpoint_dir=f"{tmp_path}/trial{number}",
            rung_metrics=([metrics(loss, acc, acc - 0.05) for loss, acc in zip(losses, accuracies, strict=False)]
                          if with_metrics else []))

    trials = [trial(0, [1.5, 1.1], [0.41, 0.6125], "completed"), trial(1, [1.7], [0.3375], "stopped"),
              trial(2, [1.4, 1.2], [0.45, 0.5875], "completed")]
    test = EvalResult(split="test", num_examples=40, metrics={"accuracy": 0.625, "loss": 1.0625, "macro_f1": 0.5875},
                      per_class=[ClassMetrics("business", 0.5, 0.75, 0.6, 8), ClassMetrics("tech", None, 0.0, 0.0, 4)])
    return LadderSweepResult(trials=trials, decisions=[], best_trial=0, total_steps=50,
                             best_test=test if with_metrics else None,
                             best_test_note="trial 0's best checkpoint x/best.ckpt on the test split" if with_metrics else "")


def text(renderable) -> str:
    console = Console(width=200, record=True)
    console.print(renderable)
    return console.export_text()


def test_terminal_tables_show_every_metric_and_the_test_metrics(tmp_path, monkeypatch):
    sweep = result(tmp_path)
    shown = text(trial_table(sweep.trials))
    for line in ("loss 1.1000", "accuracy 0.6125", "macro_f1 0.5625", "loss 1.7000", "accuracy 0.3375"):
        assert line in shown, shown
    board = text(leaderboard_table(sweep, "minimize", "val_loss"))
    assert board.index("accuracy") < board.index("macro_f1") and "0.6125" in board and "0.5625" in board
    ranked = [line.split("│")[2].strip() for line in board.splitlines() if line.startswith("│")]
    assert ranked == ["0", "2", "1"], board  # by val_loss at the top rung

    console = Console(width=200, record=True)
    monkeypatch.setattr("runner.terminal.console", console)
    print_summary(sweep, "minimize", "val_loss")
    summary = console.export_text()
    assert summary.index("best trial 0") < summary.index("test metrics")
    for line in ("accuracy", "0.6250", "macro_f1", "0.5875", "1.0625", "business", "tech"):
        assert line in summary, summary
    assert "trial 0's best checkpoint" in summary


def test_leaderboard_csv_and_sweep_json_carry_every_metric_per_rung_and_the_test_metrics(tmp_path):
    sweep = result(tmp_path)
    write_sweep_files(tmp_path / "out", "view-sha-1", sweep, PLAIN)
    with (tmp_path / "out" / "leaderboard.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [row["trial"] for row in rows] == ["0", "2", "1"]
    best, second, third = rows
    assert float(best["val_loss"]) == 1.1 and float(best["val_accuracy"]) == 0.6125
    assert float(best["val_macro_f1"]) == 0.5625
    assert float(best["val_accuracy@10"]) == 0.41 and float(best["val_accuracy@20"]) == 0.6125
    assert float(third["val_accuracy"]) == 0.3375 and third["val_accuracy@20"] == ""
    assert float(best["test_accuracy"]) == 0.625 and float(best["test_macro_f1"]) == 0.5875
    assert second["test_accuracy"] == ""
    document = json.loads((tmp_path / "out" / "sweep.json").read_text())
    assert document["trials"][0]["rung_metrics"][1] == metrics(1.1, 0.6125, 0.5625)
    assert document["best_test"]["metrics"]["accuracy"] == 0.625 and document["best_test_note"]


def test_the_report_shows_every_metric_per_rung_and_the_test_metrics(tmp_path):
    sweep = result(tmp_path)
    path = write_report(tmp_path / "report.html", "view-sha-1", "LadderSweepWorkflow", "COMPLETED",
                        {"config": PLAIN}, sweep)
    page = path.read_text()
    board = page[page.index('<table id="leaderboard">'):]
    board = board[:board.index("</table>")]
    assert "<th>val_loss</th><th>val_accuracy</th><th>val_macro_f1</th>" in board and "<td>0.6125</td>" in board
    # the best trial's test metrics in the summary, the long per-rung table collapsed after the figures
    assert page.index('id="best-test"') < page.index('id="leaderboard"') < page.index('id="rung-metrics"') \
        < page.index('id="decisions"')
    per_rung = page[page.index('<table id="rung-metrics">'):]
    per_rung = per_rung[:per_rung.index("</table>")]
    assert "<th>val_accuracy</th>" in per_rung and "<th>val_macro_f1</th>" in per_rung
    assert per_rung.count("<tr>") == 1 + 5  # the header, then 5 rung results
    assert "<td>0.6125</td>" in per_rung and "<td>0.5625</td>" in per_rung
    test = page[page.index('<table id="best-test">'):]
    assert "<td>macro_f1</td><td>0.5875</td>" in test[:test.index("</table>")]
    assert 'id="best-test-per-class"' in page and "<td>business</td>" in page


def test_a_sweep_recorded_before_the_metrics_shows_its_monitored_one(tmp_path):
    sweep = result(tmp_path, with_metrics=False)
    shown = text(trial_table(sweep.trials))
    assert "1.1000" in shown and "accuracy" not in shown
    write_sweep_files(tmp_path / "out", "view-sha-1", sweep, PLAIN)
    header = (tmp_path / "out" / "leaderboard.csv").read_text().splitlines()[0]
    assert "val_accuracy" not in header and "test_" not in header
    page = write_report(tmp_path / "report.html", "view-sha-1", "LadderSweepWorkflow", "COMPLETED",
                        {"config": PLAIN}, sweep).read_text()
    assert 'id="rung-metrics"' in page and "not recorded" in page


def test_parameters_show_enough_digits_to_tell_trials_apart():
    from runner.sweep_view import params_texts

    lrs = [0.00041, 0.000412, 0.0004123, 0.0004]
    trials = [TrialState(number=i, params={"optim.lr": lr, "trainer.batch_size": 16}) for i, lr in enumerate(lrs)]
    texts = params_texts(trials)
    assert len(set(texts.values())) == len(lrs), texts
    assert texts[3] == "optim.lr=0.0004 trainer.batch_size=16"  # no more digits than the values need
    assert params_texts([TrialState(number=0, params={"optim.lr": 1 / 3})])[0] == "optim.lr=0.333"  # 3 at least
