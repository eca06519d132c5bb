"""`train-tune rerun SWEEP_ID --trial best` of a population-based training sweep, from the command line: one
single run that replays, in segments, the schedule the best member's weights were trained under, and
reproduces its metric; an unknown trial is refused in one line (exit 2) and starts nothing."""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import free_port
from tests.e2e.test_cli import train_tune
from tests.e2e.test_pbt_cli import PBT


@pytest.mark.e2e
def test_rerun_of_a_pbt_sweeps_best_trial_replays_its_schedule(tmp_path):
    connection = [f"run_root={tmp_path / 'runs'}", f"temporal.port={free_port()}", "temporal.ui=false"]
    # sampler.seed=1: the best member (3) carries member 1's weights to step 30 (sampler.seed=0's never exploited)
    done = train_tune(*PBT, "sampler.seed=1", *connection, "dataset.max_samples=300", "dataset.max_length=64",
                      cwd=tmp_path)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    sweep = json.loads(next(tmp_path.glob("outputs/*/*/sweep.json")).read_text())
    sweep_id, best = sweep["workflow_id"], sweep["trials"][sweep["best_trial"]]
    weights = sweep["best_lineage"]["schedule"]
    assert len(weights) > 1, sweep["best_lineage"]

    out = tmp_path / "rerun"
    rerun = train_tune("rerun", sweep_id, "--trial", "best", "--out", str(out), *connection, cwd=tmp_path)
    text = rerun.stdout + rerun.stderr
    assert rerun.returncode == 0, text[-4000:]
    assert re.search(rf"rerunning trial {best['number']} of {sweep_id} as {sweep_id}-trial{best['number']}-rerun-\S+ "
                     rf".*; {len(weights)} segments\)", text), text[-3000:]
    assert "reproduced exactly" in text, text[-3000:]
    result = json.loads((out / "result.json").read_text())
    assert result["origin"]["sweep_id"] == sweep_id and result["origin"]["trial"] == best["number"]
    assert result["train"]["global_step"] == 40 and result["train"]["final_score"] == best["metrics"][-1]
    # its last segment resumed from its own checkpoint where the last stretch of the weights' schedule starts
    assert result["train"]["resumed_from_step"] == weights[-1]["from_step"] > 0, result["train"]

    unknown = train_tune("rerun", sweep_id, "--trial", "7", *connection, cwd=tmp_path)
    assert unknown.returncode == 2, (unknown.stdout + unknown.stderr)[-3000:]
    assert f"--trial is 7, but sweep {sweep_id} has no trial 7 (trials 0-3); valid: best or a trial that reached a " \
           "rung: 0-3" in unknown.stdout + unknown.stderr
    assert "rerunning" not in unknown.stdout
