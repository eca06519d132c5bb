"""`train-tune results ID --html`: the report of a real sweep (and of a real single run) is one
self-contained file that renders in headless Chromium (Debian's `chromium`) without script errors, with
its leaderboard, figures and resolved config (a single run: its per-class table and confusion matrix heat
map; a sweep: every figure, the decision log filtered by a link); the screenshots are kept under
test-artifacts/."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from runner.report import write_report
from runner.report_sweep import MO_ONLY, PBT_ONLY, TITLES
from runner.resolve import resolve_run
from runner.submit import start_run
from runner.worker import running_workers
from tests.conftest import SMALL_RUN, compose_config
from tests.unit.pbt_fixture import PLAIN as PBT_PLAIN
from tests.unit.pbt_fixture import pbt_sweep
from tests.unit.report_fixture import PLAIN, constructed_sweep
from tests.workflows.test_ladder_sweep import small_sweep
from workflows.ladder_sweep import LadderSweepWorkflow
from workflows.payloads.runs import TrainEvalResult
from workflows.payloads.sweep import LadderSweepResult

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def headless(browser: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Chromium on the page; software WebGL (`--enable-unsafe-swiftshader`) for plotly's parallel
    coordinates, the page's console on stderr."""
    return subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                           "--enable-unsafe-swiftshader", "--enable-logging=stderr", "--v=0", "--hide-scrollbars",
                           "--no-first-run", "--virtual-time-budget=10000", f"--user-data-dir={cwd / 'profile'}", *args],
                          capture_output=True, text=True, timeout=180, cwd=cwd)


def assert_no_script_errors(done: subprocess.CompletedProcess, dom: bool = True) -> None:
    """No uncaught error on the console, and (a `--dump-dom` run) none the page itself caught (`#js-errors`)."""
    uncaught = [line for line in done.stderr.splitlines() if "CONSOLE" in line and "Uncaught" in line]
    assert not uncaught, uncaught
    if dom:
        errors = re.search(r'<pre id="js-errors">(.*?)</pre>', done.stdout, re.S)
        assert errors is not None and errors.group(1) == "", errors and errors.group(1)



def dumped_dom(uri: str, tmp_path):
    """(the browser, headless Chromium's DOM of `uri` after its scripts ran); skips without Chromium."""
    browser = chromium()
    if browser is None:
        pytest.skip("no chromium on this machine (.ci/run installs Debian's chromium)")
    dom = headless(browser, "--dump-dom", uri, cwd=tmp_path)
    assert dom.returncode == 0, dom.stderr[-2000:]
    return browser, dom

def test_every_figure_of_a_sweep_report_renders_and_a_link_filters_the_decision_log(tmp_path):
    """The constructed sweep of tests/unit/report_fixture.py (logs, proposal reasons, wall times): no
    training, so it checks the page itself."""
    sweep = constructed_sweep(tmp_path)
    report = write_report(tmp_path / "report.html", "fixture-sha-1", "LadderSweepWorkflow", "COMPLETED",
                          {"config": PLAIN, "config_hash": "abc123"}, sweep)
    browser, dom = dumped_dom(report.as_uri() + "#decisions=promote", tmp_path)
    assert_no_script_errors(dom)
    for name in TITLES:
        if name not in MO_ONLY and name not in PBT_ONLY:  # one objective; successive halving
            assert f'id="fig-{name}"' in dom.stdout and f'id="fig-{name}" class="plotly-graph-div js-plotly-plot"' \
                in dom.stdout, f"plotly drew {name}"
    assert 'class="parcoords"' in dom.stdout and dom.stdout.count('class="main-svg"') >= 2 * 8
    log = dom.stdout[dom.stdout.index('<details id="decision-log" open=""'):]
    log = log[:log.index("</table>")]
    promotes = sum(d.kind == "promote" for d in sweep.decisions)
    assert f"{promotes} of {len(sweep.decisions)} shown" in log
    assert log.count('style="display: none;"') == len(sweep.decisions) - promotes
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "sweep-report-fixture.png"
    done = headless(browser, f"--screenshot={shot}", "--window-size=1400,4800", report.as_uri(), cwd=tmp_path)
    assert done.returncode == 0 and shot.stat().st_size > 100_000, done.stderr[-2000:]
    assert_no_script_errors(done, dom=False)


def test_a_multi_objective_sweep_report_draws_its_front_and_hypervolume(tmp_path):
    """The multi-objective sweep of tests/unit/test_pareto_results.py: the front's table, its Pareto plot and
    the hypervolume over steps trained drawn without script errors."""
    from tests.unit.test_pareto_results import CONFIG, sweep

    report = write_report(tmp_path / "report.html", "mo-asha-1", "LadderSweepWorkflow", "COMPLETED",
                          {"config": CONFIG}, sweep())
    _, dom = dumped_dom(report.as_uri(), tmp_path)
    assert_no_script_errors(dom)
    for name in MO_ONLY:
        assert f'id="fig-{name}" class="plotly-graph-div js-plotly-plot"' in dom.stdout, f"plotly drew {name}"
    assert 'id="pareto-front"' in dom.stdout


def test_a_pbt_sweep_report_draws_its_lineage_and_schedules(tmp_path):
    """The population-based training sweep of tests/unit/pbt_fixture.py: its lineage, schedules and
    learning curves drawn without script errors (the arrow markers need plotly's `angleref`)."""
    report = write_report(tmp_path / "report.html", "pbt-sha-1", "LadderSweepWorkflow", "COMPLETED",
                          {"config": PBT_PLAIN}, pbt_sweep(tmp_path))
    browser, dom = dumped_dom(report.as_uri(), tmp_path)
    assert_no_script_errors(dom)
    for name in (*PBT_ONLY, "learning_curves"):
        assert f'id="fig-{name}" class="plotly-graph-div js-plotly-plot"' in dom.stdout, f"plotly drew {name}"
    assert 'id="exploits"' in dom.stdout
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "sweep-report-pbt.png"
    done = headless(browser, f"--screenshot={shot}", "--window-size=1400,4800", report.as_uri(), cwd=tmp_path)
    assert done.returncode == 0 and shot.stat().st_size > 50_000, done.stderr[-2000:]
    assert_no_script_errors(done, dom=False)


async def test_sweep_report_is_self_contained_and_renders_in_headless_chromium(temporal_env, run_root, queues,
                                                                              tmp_path):
    sweep = small_sweep(run_root, queues, [10, 20], 4)
    plain = {"trainer": {"monitor": "val_loss"}, "direction": "minimize", "experiment_name": "report",
             "optim": {"lr": 1e-3}}
    async with running_workers(temporal_env.client, queues, max_concurrent_training=2):
        handle = await temporal_env.client.start_workflow(LadderSweepWorkflow.run, sweep, id=f"report-{queues.training}",
                                                          task_queue=queues.orchestration)
        result: LadderSweepResult = await handle.result()
    memo = {"config": plain, "config_hash": "abc123", "config_repo": {"commit": "f00d", "dirty": True}}
    report = write_report(tmp_path / "report.html", handle.id, "LadderSweepWorkflow", "COMPLETED", memo, result)
    text = report.read_text()
    assert not re.search(r"<script[^>]+src=", text), "self-contained: no external scripts"
    # every figure of a sweep with one objective; importance, from 4 trials at the first rung, is one of them
    assert text.count("Plotly.newPlot") == 8 and "f00d (dirty)" in text and "plot-pareto" not in text
    for trial in result.trials:
        assert f"<td>{trial.number}</td>" in text
    # every validation metric per rung, and the best trial's test metrics (`runner.sweep_view`)
    assert result.best_test is not None and "<th>val_accuracy</th><th>val_macro_f1</th>" in text
    assert 'id="rung-metrics"' in text and 'id="best-test"' in text and 'id="best-test-per-class"' in text

    browser, dom = dumped_dom(report.as_uri(), tmp_path)
    assert_no_script_errors(dom)
    # plotly drew each figure (its SVG exists only after the script ran) and the tables are there
    assert dom.stdout.count('class="main-svg"') >= 2 * 8, dom.stdout[:2000]
    assert 'id="trial-states"' in dom.stdout and 'id="decision-log"' in dom.stdout
    assert 'id="leaderboard"' in dom.stdout and "experiment_name: report" in dom.stdout
    assert 'id="rung-metrics"' in dom.stdout and 'id="best-test"' in dom.stdout
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "sweep-report.png"
    done = headless(browser, f"--screenshot={shot}", "--window-size=1400,4800", report.as_uri(), cwd=tmp_path)
    assert done.returncode == 0 and shot.stat().st_size > 20_000, done.stderr[-2000:]


async def test_single_run_report_shows_per_class_scores_and_a_confusion_matrix(temporal_env, run_root, queues,
                                                                               tmp_path):
    run, plain = resolve_run(compose_config(*SMALL_RUN, f"run_root={run_root}", "trainer.max_steps=10"))
    run.queues = queues
    async with running_workers(temporal_env.client, queues):
        handle = await start_run(temporal_env.client, run, plain)
        result: TrainEvalResult = await handle.result()
    report = write_report(tmp_path / "report.html", handle.id, "TrainEvalWorkflow", "COMPLETED",
                          {"config": plain, "config_hash": run.config_hash}, result)
    text = report.read_text()
    assert not re.search(r"<script[^>]+src=", text), "self-contained: no external scripts"
    # the confusion matrix and the learning curve, plotly's JavaScript inlined once
    assert text.count("Plotly.newPlot") == 2 and 'id="fig-confusion_matrix"' in text
    assert text.index('id="fig-confusion_matrix"') < text.index('id="fig-learning_curves"')
    per_class = text[text.index('<table id="per-class">'):]
    per_class = per_class[:per_class.index("</table>")]
    assert [f"<td>{c.label}</td>" in per_class for c in result.per_class] == [True] * 5
    assert f"<td>{result.per_class[0].support}</td>" in per_class
    # the heat map's data: rows = true, columns = predicted, in label order
    matrix = re.search(r'"z":(\[\[[^"]*?\]\])', text)
    assert matrix and [[int(v) for v in row] for row in json.loads(matrix.group(1))] == result.confusion_matrix

    browser, dom = dumped_dom(report.as_uri(), tmp_path)
    assert dom.stdout.count('class="main-svg"') >= 2 and 'id="per-class"' in dom.stdout, dom.stdout[:2000]
    assert 'class="heatmaplayer' in dom.stdout, "plotly drew the heat map"
    assert_no_script_errors(dom)
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "single-run-report.png"
    done = headless(browser, f"--screenshot={shot}", "--window-size=1200,2000", report.as_uri(), cwd=tmp_path)
    assert done.returncode == 0 and shot.stat().st_size > 20_000, done.stderr[-2000:]
