"""`enqueue:` and `warm_start.from` as a user runs them: a tiny sweep with an enqueued config, then a second
sweep warm-started from it. The second one's decision log says what it learned from, its trials whose
configs coincide with the first's copy their checkpoints instead of training (fewer steps trained, the same
rung results and promotion), and `status`, `results`, sweep.json and the HTML report show it."""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import free_port
from tests.e2e.test_cli import train_tune

SWEEP = ["experiment=bert_sweep", "ladder.eta=3", "ladder.rungs=[10,20]", "trainer.max_steps=20",
         "trainer.checkpoint_every_n_steps=10", "trainer.val_every_n_steps=10", "ladder.keep_checkpoints=-1",
         "enqueue=[{optim.lr:1e-3,optim.warmup_ratio:0.06}]"]


@pytest.mark.e2e
def test_a_warm_started_sweep_reuses_a_finished_sweeps_checkpoints(tmp_path):
    common = [f"run_root={tmp_path / 'runs'}", f"temporal.port={free_port()}", "temporal.ui=false",
              "dataset.max_samples=300", "dataset.max_length=64"]
    first = train_tune(*SWEEP, "n_trials=3", "experiment_name=ws_first", *common, cwd=tmp_path)
    assert first.returncode == 0, (first.stdout + first.stderr)[-4000:]
    assert "enqueued configs: trials 0" in first.stdout and "steps trained: 40 " in first.stdout, first.stdout[-3000:]
    first_id = re.search(r"started sweep (\S+):", first.stdout).group(1)
    before = json.loads(next(tmp_path.glob("outputs/*/*/sweep.json")).read_text())
    assert before["trials"][0]["proposed_by"] == "enqueued"
    assert before["trials"][0]["params"] == {"optim.lr": 1e-3, "optim.warmup_ratio": 0.06}

    second = train_tune(*SWEEP, "n_trials=4", "experiment_name=ws_second", f"warm_start.from=[{first_id}]", *common,
                        cwd=tmp_path)
    text = second.stdout + second.stderr
    assert second.returncode == 0, text[-4000:]
    assert f"warm start: sampler tpe learns from 3 finished trials of {first_id} (1 complete)" in second.stdout, text[-3000:]
    steps = int(re.search(r"steps trained: (\d+) \(every trial to the top rung: 80\)", second.stdout).group(1))
    assert steps <= 20, second.stdout[-3000:]  # trial 3 is new; the first three trials' rungs are copied

    second_id = re.search(r"started sweep (\S+):", second.stdout).group(1)
    report = train_tune("results", second_id, "--out", str(tmp_path / "report"), "--html", *common[:2],
                        "temporal.ui=false", cwd=tmp_path)
    assert report.returncode == 0, (report.stdout + report.stderr)[-3000:]
    after = json.loads((tmp_path / "report" / "sweep.json").read_text())
    assert after["decisions"][0]["kind"] == "warm_start"
    reused = [d for d in after["decisions"] if d["kind"] == "reuse"]
    assert {d["trial"] for d in reused if d["rung"] == 0} == {0, 1, 2}, after["decisions"]
    assert all(re.match(rf"reused checkpoint from {first_id} trial \d at step (10|20) \(sha256 ", d["detail"])
               for d in reused)
    for old in before["trials"]:  # the configs coincide: the same rung results, the same promotion
        new = after["trials"][old["number"]]
        assert (new["params"], new["metrics"][0]) == (old["params"], old["metrics"][0])
        assert new["reused"][0] == f"{first_id}#{old['number']}@10"
        if old["rung"] == 1 and new["rung"] == 1:
            assert new["reused"] == [f"{first_id}#{old['number']}@10", f"{first_id}#{old['number']}@20"]
    assert after["trials"][3]["reused"] == [] and after["total_steps"] == steps
    assert "checkpoints reused:" in report.stdout
    html = (tmp_path / "report" / "report.html").read_text()
    assert "warm start: sampler tpe learns from 3" in html and "reused checkpoint from" in html

    status = train_tune("status", second_id, "--once", *common[:2], "temporal.ui=false", cwd=tmp_path)
    assert status.returncode == 0 and "checkpoints reused: " in status.stdout, (status.stdout + status.stderr)[-3000:]


@pytest.mark.e2e
def test_bad_enqueue_and_warm_start_input_is_one_line(tmp_path):
    runs = tmp_path / "runs"
    bad = train_tune("experiment=bert_sweep", "enqueue=[{optim.lr:1e-3},{optim.lr:0.5}]", f"run_root={runs}",
                     cwd=tmp_path, timeout=120)
    message = bad.stdout + bad.stderr
    assert bad.returncode != 0 and "Traceback" not in message, message
    assert "enqueue[1].optim.lr is 0.5, but it must lie in [0.0001, 0.01] (search_space.params.optim.lr)" in message
    assert not (runs / "temporal.sqlite").exists()  # refused before any server starts

    unknown = train_tune("experiment=bert_sweep", "warm_start.from=[no-such-sweep]", f"run_root={runs}",
                         f"temporal.port={free_port()}", "temporal.ui=false", cwd=tmp_path, timeout=180)
    message = unknown.stdout + unknown.stderr
    assert unknown.returncode != 0 and "Traceback" not in message, message
    assert "warm_start.from[0] is 'no-such-sweep', but this server has no run of that id" in message, message
