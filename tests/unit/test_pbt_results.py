"""A population-based training sweep's lineage as the results tables, sweep.json and leaderboard.csv
show it (the sweep of tests/unit/pbt_fixture.py: four members, three exploits, one skip), and nothing of it
for the other ladder kinds."""

from __future__ import annotations

import csv
import json

from rich.console import Console

from runner.pbt_view import ancestry, lineage_text
from runner.sweep_results import report, write_sweep_files
from runner.sweep_view import leaderboard_table
from runner.sweep_watch import trial_table
from tests.unit.pbt_fixture import LINEAGES, PLAIN, pbt_sweep
from tests.unit.report_fixture import PLAIN as SHA_PLAIN
from tests.unit.report_fixture import constructed_sweep
from workflows.payloads.records import PbtStep


def text(renderable) -> str:
    console = Console(width=220, record=True)
    console.print(renderable)
    return console.export_text()


def rows_of(shown: str) -> dict[str, list[str]]:
    """A rendered table's rows by their first cell, each as its cells."""
    cells = [[c.strip() for c in line.split("│")[1:-1]] for line in shown.splitlines() if line.startswith("│")]
    return {row[0]: row for row in cells}


def test_the_trial_table_and_the_leaderboard_show_each_member_s_lineage_and_current_params(tmp_path):
    sweep = pbt_sweep(tmp_path)
    table = rows_of(text(trial_table(sweep.trials)))
    header = next(line for line in text(trial_table(sweep.trials)).splitlines() if "params" in line)
    assert header.index("params") < header.index("lineage") < header.index("state")
    for number, lineage in LINEAGES.items():
        assert table[str(number)][2] == lineage, table
    assert "optim.lr=0.00096 optim.warmup_ratio=0.06" in table["1"][1]  # its parameters since step 200
    assert "optim.lr=0.0024 optim.warmup_ratio=0.1" in table["2"][1]
    board = text(leaderboard_table(sweep, "minimize", "val_loss"))
    ranked = [row for row in rows_of(board).values() if row[0].isdigit()]
    assert [(row[1], row[-1]) for row in ranked] == [("1", LINEAGES[1]), ("3", LINEAGES[3]), ("0", LINEAGES[0]),
                                                      ("2", LINEAGES[2])]


def test_a_pending_exploit_ends_the_lineage_until_its_checkpoint_is_copied(tmp_path):
    member = pbt_sweep(tmp_path).trials[2]
    member.pending_exploit = PbtStep(step=300, source=0, params={"optim.lr": 1.2e-3}, how={"optim.lr": "x1.2"})
    assert lineage_text(member) == "2@0 -> 1@100 (-> 0@300 pending)"


def test_sweep_json_carries_every_lineage_and_the_best_trial_s_schedule(tmp_path):
    sweep = pbt_sweep(tmp_path)
    write_sweep_files(tmp_path / "out", "pbt-sha-1", sweep, PLAIN)
    document = json.loads((tmp_path / "out" / "sweep.json").read_text())
    trials = {t["number"]: t for t in document["trials"]}
    assert [(s["source"], s["step"]) for s in trials[2]["lineage"]] == [(2, 0), (1, 100)]
    assert trials[2]["lineage"][1] == {"step": 100, "source": 1, "params": {"optim.lr": 2.4e-3, "optim.warmup_ratio": 0.1},
                                       "how": {"optim.lr": "x0.8", "optim.warmup_ratio": "resample"},
                                       "source_score": 0.9}
    assert all("pending_exploit" in t for t in document["trials"])
    best = document["best_lineage"]
    assert (best["trial"], best["lineage"], best["until_step"]) == (1, LINEAGES[1], 300)
    assert [(s["source"], s["step"]) for s in best["steps"]] == [(1, 0), (3, 200)]
    # the best weights: member 0's until 100, member 3's (which copied 0) until 200, then member 1's own
    assert [(s["from_step"], s["weights_of"], s["params"]["optim.lr"]) for s in best["schedule"]] == [
        (0, 0, 1e-3), (100, 3, 1.2e-3), (200, 1, 9.6e-4)]
    with (tmp_path / "out" / "leaderboard.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [(row["trial"], row["lineage"]) for row in rows] == [("1", LINEAGES[1]), ("3", LINEAGES[3]),
                                                                ("0", LINEAGES[0]), ("2", LINEAGES[2])]


def test_the_end_of_a_pbt_sweep_prints_its_exploits_not_its_promotions(tmp_path, monkeypatch):
    console = Console(width=300, record=True)
    monkeypatch.setattr("runner.sweep_results.console", console)
    monkeypatch.setattr("runner.terminal.console", console)
    report("pbt-sha-1", pbt_sweep(tmp_path), tmp_path / "out", PLAIN)
    printed = console.export_text()
    assert "rung 0: exploit trial 3 (member 3 (1.2) copies member 0 (0.8) at step 100; optim.lr 0.001 -> 0.0012 " \
           "(x1.2), optim.warmup_ratio 0.06 -> 0.06 (keep)" in printed
    assert "rung 1: exploit_skip trial 0" in printed and "promote" not in printed
    assert LINEAGES[1] in printed  # the leaderboard


def test_ancestry_follows_the_weights_back_and_stops_at_a_missing_member(tmp_path):
    by_number = {t.number: t for t in pbt_sweep(tmp_path).trials}
    assert [(step, member) for step, member, _ in ancestry(by_number, 1)] == [(0, 0), (100, 3), (200, 1)]
    assert [(step, member) for step, member, _ in ancestry(by_number, 1, until=200)] == [(0, 1)]
    assert [(step, member) for step, member, _ in ancestry(by_number, 2)] == [(0, 1), (100, 2)]
    del by_number[3]
    assert [(step, member) for step, member, _ in ancestry(by_number, 1)] == [(200, 1)]


def test_other_ladders_show_no_lineage_in_results(tmp_path):
    sweep = constructed_sweep(tmp_path)
    assert "lineage" not in text(trial_table(sweep.trials)) + text(leaderboard_table(sweep, "minimize", "val_loss"))
    write_sweep_files(tmp_path / "out", "sha-1", sweep, SHA_PLAIN)
    document = json.loads((tmp_path / "out" / "sweep.json").read_text())
    assert "best_lineage" not in document and all(t["lineage"] == [] for t in document["trials"])
    assert "lineage" not in (tmp_path / "out" / "leaderboard.csv").read_text().splitlines()[0]
