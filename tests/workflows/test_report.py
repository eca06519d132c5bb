"""`train-tune results ID --html`: the report of a real sweep is one self-contained file that renders in
headless Chromium (Debian's `chromium`) with its leaderboard, plots and resolved config; the screenshot is
kept under test-artifacts/."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from runner.report import write_report
from runner.worker import running_workers
from tests.workflows.test_ladder_sweep import small_sweep
from workflows.ladder_sweep import LadderSweepResult, LadderSweepWorkflow

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def headless(browser: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                           "--no-first-run", "--virtual-time-budget=10000", f"--user-data-dir={cwd / 'profile'}", *args],
                          capture_output=True, text=True, timeout=180, cwd=cwd)


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
    assert text.count("Plotly.newPlot") == 3 and "f00d (dirty)" in text
    for trial in result.trials:
        assert f"<td>{trial.number}</td>" in text

    browser = chromium()
    if browser is None:
        pytest.skip("no chromium on this machine (.ci/run installs Debian's chromium)")
    dom = headless(browser, "--dump-dom", report.as_uri(), cwd=tmp_path)
    assert dom.returncode == 0, dom.stderr[-2000:]
    # plotly drew each figure (its SVG exists only after the script ran) and the tables are there
    assert dom.stdout.count('class="main-svg"') >= 3, dom.stdout[:2000]
    assert 'id="leaderboard"' in dom.stdout and "experiment_name: report" in dom.stdout
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "sweep-report.png"
    done = headless(browser, f"--screenshot={shot}", "--window-size=1200,2400", report.as_uri(), cwd=tmp_path)
    assert done.returncode == 0 and shot.stat().st_size > 20_000, done.stderr[-2000:]
