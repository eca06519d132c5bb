"""A team's config repo (`--config-dir`): each run records the repo's commit and dirty flag (memo,
result file, search attribute), a dirty repo is refused under `require_clean_config=true` before anything
starts, runs are found with `temporal workflow list --query` on train-tune's search attributes, and
`train-tune rerun <id>` starts the exact resolved config again."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from runner.embedded_server import EmbeddedServer, temporal_binary
from tests.conftest import free_port
from tests.e2e.test_cli import train_tune

TEAM_EXPERIMENT = """# @package _global_
# the team's experiment: only what differs from train-tune's defaults
defaults:
  - override /model: bert_tiny
experiment_name: team_run
trainer:
  max_steps: 10
  val_every_n_steps: 5
  checkpoint_every_n_steps: 5
"""


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout.strip()


def workflows(address: str, query: str) -> list[dict]:
    done = subprocess.run([temporal_binary(), "workflow", "list", "--address", address, "--query", query,
                           "--output", "json"], check=True, capture_output=True, text=True, timeout=60)
    return json.loads(done.stdout or "[]")


def describe(address: str, workflow_id: str) -> dict:
    done = subprocess.run([temporal_binary(), "workflow", "describe", "--address", address, "--workflow-id",
                           workflow_id, "--output", "json"], check=True, capture_output=True, text=True, timeout=60)
    return json.loads(done.stdout)


@pytest.mark.e2e
def test_config_repo_commit_is_recorded_dirty_refused_and_a_run_reruns_exactly(tmp_path):
    repo = tmp_path / "team-configs"
    (repo / "experiment").mkdir(parents=True)
    (repo / "experiment" / "team.yaml").write_text(TEAM_EXPERIMENT)
    git(repo, "init", "-q")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.org", "add", ".")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "team experiment")
    sha = git(repo, "rev-parse", "HEAD")
    run_root = tmp_path / "runs"
    common = [f"run_root={run_root}", f"temporal.port={free_port()}", "temporal.ui=false"]

    done = train_tune("--config-dir", str(repo), "experiment=team", "require_clean_config=true", *common,
                      cwd=tmp_path)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    assert f"config repo {repo} at commit {sha[:12]}\n" in done.stdout, done.stdout  # said on screen, clean
    result = json.loads(next(tmp_path.glob("outputs/*/*/result.json")).read_text())
    assert result["config_repo"] == {"path": str(repo), "commit": sha, "dirty": False, "changes": []}
    assert result["train"]["global_step"] == 10
    original = result["workflow_id"]

    # an uncommitted change: refused before anything starts, naming the repo and the file
    (repo / "experiment" / "team.yaml").write_text(TEAM_EXPERIMENT.replace("max_steps: 10", "max_steps: 12"))
    refused = train_tune("--config-dir", str(repo), "experiment=team", "require_clean_config=true", *common,
                         cwd=tmp_path, timeout=120)
    message = refused.stdout + refused.stderr
    assert refused.returncode != 0
    assert f"require_clean_config is true, but the config repo {repo} has uncommitted changes" in message, message
    assert "experiment/team.yaml" in message and sha[:12] in message

    server = EmbeddedServer.ensure(run_root / "temporal.sqlite", port=free_port(), ui=False)
    try:
        assert [w["execution"]["workflowId"] for w in workflows(server.address, "")] == [original], \
            "the refused run started nothing"
        found = workflows(server.address, f"TrainTuneGitSha = '{sha}' AND TrainTuneModel = 'bert_tiny' AND "
                                          "TrainTuneExperiment = 'team_run' AND TrainTuneBestMetric > 0")
        assert [w["execution"]["workflowId"] for w in found] == [original]
        attributes = describe(server.address, original)["workflowExecutionInfo"]["searchAttributes"]["indexedFields"]
        assert set(attributes) >= {"TrainTuneGitSha", "TrainTuneConfigHash", "TrainTuneModel", "TrainTuneDataset",
                                   "TrainTuneExperiment", "TrainTuneBestMetric"}

        # rerun: the exact resolved config again (the repo's working copy now says 12 steps; the rerun
        # trains 10, as recorded), labelled with the original's commit
        out = tmp_path / "rerun-out"
        again = train_tune("rerun", original, f"run_root={run_root}", "--out", str(out), cwd=tmp_path)
        assert again.returncode == 0, (again.stdout + again.stderr)[-4000:]
        assert f"rerunning {original} as {original}-rerun-" in again.stdout and f"config commit {sha}" in again.stdout
        rerun = json.loads((out / "result.json").read_text())
        assert rerun["workflow_id"].startswith(f"{original}-rerun-")
        assert rerun["train"]["global_step"] == 10 and rerun["config_hash"] == result["config_hash"]
        assert rerun["config_repo"]["commit"] == sha
        assert rerun["best_checkpoint"] != result["best_checkpoint"], "fresh checkpoints"
        found = workflows(server.address, f"TrainTuneGitSha = '{sha}'")
        assert sorted(w["execution"]["workflowId"] for w in found) == sorted([original, rerun["workflow_id"]])

        # the HTML report of the rerun: self-contained, its metrics, its config, the original's commit
        report_dir = tmp_path / "report"
        shown = train_tune("results", rerun["workflow_id"], f"run_root={run_root}", "--html", "--out",
                           str(report_dir), cwd=tmp_path)
        assert shown.returncode == 0, (shown.stdout + shown.stderr)[-4000:]
        page = (report_dir / "report.html").read_text()
        assert rerun["workflow_id"] in page and sha in page and "max_steps: 10" in page
        assert f"<td>{rerun['metrics']['accuracy']:.4f}</td>" in page and f"rerun of</td><td>{original}" in page
    finally:
        server.stop()
