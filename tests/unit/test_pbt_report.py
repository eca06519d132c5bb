"""A population-based training sweep's HTML report: its lineage, hyperparameter schedules, exploit
decisions and learning curves (the sweep of tests/unit/pbt_fixture.py), and none of them for the other
ladder kinds."""

from __future__ import annotations

import json
from dataclasses import replace

from runner.pbt_view import lineage_text
from runner.report import write_report
from tests.unit.pbt_fixture import LINEAGES, PLAIN, pbt_sweep
from tests.unit.report_fixture import PLAIN as SHA_PLAIN
from tests.unit.report_fixture import constructed_sweep


def page_of(result, tmp_path, config=PLAIN) -> str:
    return write_report(tmp_path / "report.html", "pbt-sha-1", "LadderSweepWorkflow", "COMPLETED", {"config": config},
                        result).read_text()


def plot_of(page: str, name: str) -> tuple[list[dict], dict]:
    """(traces, layout) plotly draws for figure `name` (what the page passes to Plotly.newPlot)."""
    call = page[page.index(f'"fig-{name}",'):]
    decoder = json.JSONDecoder()
    data, end = decoder.raw_decode(call[call.index("["):])
    rest = call[call.index("[") + end:]
    layout, _ = decoder.raw_decode(rest[rest.index("{"):])
    return data, layout


def test_other_ladders_show_no_lineage_in_the_report(tmp_path):
    page = page_of(constructed_sweep(tmp_path), tmp_path, SHA_PLAIN)
    for absent in ("fig-lineage", "fig-schedules", 'id="exploits"', "<th>lineage</th>"):
        assert absent not in page, absent


def test_the_report_draws_the_lineage_with_an_arrow_per_exploit_and_the_best_weights_path(tmp_path):
    sweep = pbt_sweep(tmp_path)
    page = page_of(sweep, tmp_path)
    traces, layout = plot_of(page, "lineage")
    arrows = {t["name"]: t for t in traces if " -> " in t.get("name", "")}
    assert set(arrows) == {"member 0 -> member 3 at step 100", "member 1 -> member 2 at step 100",
                           "member 3 -> member 1 at step 200"}
    assert arrows["member 3 -> member 1 at step 200"]["y"] == [3, 1]  # from the source's row to the target's
    assert arrows["member 3 -> member 1 at step 200"]["x"] == [200, 200]
    assert {t["x"][0] for t in arrows.values()} >= {100, 200}
    assert all(t["marker"]["symbol"] == ["circle", "arrow"] for t in arrows.values())
    scores = next(t for t in traces if t.get("name") == "val_loss")
    assert len(scores["x"]) == 12 and scores["marker"]["color"][5] == 0.5  # member 1 at step 300
    assert scores["marker"]["reversescale"] is True  # the lowest loss at the bright end
    best = next(t for t in traces if t.get("name") == "best trial 1's weights")
    assert (best["x"], best["y"]) == ([0, 100, 100, 200, 200, 300], [0, 0, 3, 3, 1, 1])
    assert layout["yaxis"]["ticktext"] == [f"member {n}" for n in range(4)]


def test_the_report_draws_each_member_s_schedule_per_key_log_where_the_space_is(tmp_path):
    page = page_of(pbt_sweep(tmp_path), tmp_path)
    traces, layout = plot_of(page, "schedules")
    lr = {t["name"]: t for t in traces if t.get("xaxis", "x") == "x"}
    warmup = {t["name"]: t for t in traces if t.get("xaxis") == "x2"}
    assert set(lr) == set(warmup) == {*(f"member {n}" for n in range(4)), "best trial 1's weights"}
    assert (lr["member 1"]["x"], lr["member 1"]["y"]) == ([0, 200, 300], [3e-3, 9.6e-4, 9.6e-4])
    assert (warmup["member 2"]["x"], warmup["member 2"]["y"]) == ([0, 100, 300], [0.1, 0.1, 0.1])
    assert all(t["line"]["shape"] == "hv" for t in traces)  # a value holds until the next change
    assert (lr["best trial 1's weights"]["x"], lr["best trial 1's weights"]["y"]) == (
        [0, 100, 200, 300], [1e-3, 1.2e-3, 9.6e-4, 9.6e-4])
    assert layout["yaxis"]["type"] == "log" and layout["yaxis2"].get("type") != "log"  # optim.lr is log in the space


def test_the_report_lists_the_exploit_decisions_and_marks_them_on_the_learning_curves(tmp_path):
    sweep = pbt_sweep(tmp_path)
    page = page_of(sweep, tmp_path)
    positions = [page.index(marker) for marker in ('id="leaderboard"', 'id="fig-lineage"', 'id="fig-schedules"',
                                                   'id="exploits"', "id='decision-log'")]
    assert positions == sorted(positions)
    exploits = page[page.index('id="exploits"'):]
    exploits = exploits[:exploits.index("</table>")]
    assert exploits.count("<tr>") == 1 + 4  # the header, three exploits and one skip
    assert "<td>exploit</td><td>1</td><td>1</td><td>200</td><td>member 1 (0.75) copies member 3 (0.6) at step 200; " \
           "optim.lr 0.0012 -&gt; 0.00096 (x0.8)" in exploits
    assert "<td>exploit_skip</td><td>0</td><td>1</td><td>200</td>" in exploits
    board = page[page.index('id="leaderboard"'):]
    assert f"<td>{LINEAGES[1].replace('>', '&gt;')}</td>" in board[:board.index("</table>")]
    curves, _ = plot_of(page, "learning_curves")
    crosses = next(t for t in curves if t["name"] == "took another member's weights")
    assert sorted(zip(crosses["x"], crosses["y"], strict=True)) == [(100, 1.2), (100, 1.3), (200, 0.75)]
    assert "promoted" not in {t["name"] for t in curves}


def test_a_member_recorded_without_a_lineage_shows_its_own_start(tmp_path):
    sweep = pbt_sweep(tmp_path)
    sweep = replace(sweep, trials=[replace(sweep.trials[0], lineage=[]), *sweep.trials[1:]])
    assert lineage_text(sweep.trials[0]) == "0@0"
    traces, _ = plot_of(page_of(sweep, tmp_path), "schedules")
    member = next(t for t in traces if t["name"] == "member 0")
    assert (member["x"], member["y"]) == ([0, 300], [1e-3, 1e-3])
