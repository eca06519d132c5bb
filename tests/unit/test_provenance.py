"""Which config folder a run's commit is taken from, and the dirty check behind require_clean_config."""

from __future__ import annotations

import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from runner.provenance import checked_repo_state, config_folder, repo_state
from workflows.payloads.errors import ConfigError


def source(path: str, schema: str, provider: str) -> SimpleNamespace:
    return SimpleNamespace(path=path, schema=schema, provider=provider)


def test_the_users_folder_wins_over_train_tunes_own(tmp_path):
    own = source("conf", "pkg", "main")
    searchpath = source(str(tmp_path / "team"), "file", "hydra.searchpath in command-line")
    config_dir = source(str(tmp_path / "mine"), "file", "command-line")
    assert config_folder([own, searchpath, config_dir]) == tmp_path / "mine"  # --config-dir
    assert config_folder([own, searchpath]) == tmp_path / "team"  # hydra.searchpath=[file://...]
    packaged = config_folder([own, source("conf", "pkg", "hydra.searchpath in main")])
    assert packaged is not None and packaged.name == "conf"  # train-tune's own conf/ (no git there)


def test_dirty_folder_is_refused_only_when_clean_is_required(tmp_path):
    repo = tmp_path / "configs"
    (repo / "experiment").mkdir(parents=True)
    (repo / "experiment" / "a.yaml").write_text("x: 1\n")

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
                       check=True, capture_output=True)

    with pytest.raises(ConfigError, match="is not in a git work tree"):
        checked_repo_state(repo, require_clean=True)
    git("init", "-q")
    git("add", ".")
    git("commit", "-qm", "first")
    clean = checked_repo_state(repo, require_clean=True)
    assert len(clean.commit) == 40 and not clean.dirty and clean.changes == []
    (repo / "experiment" / "a.yaml").write_text("x: 2\n")
    (repo / "new.yaml").write_text("y: 1\n")
    assert repo_state(repo).changes == ["experiment/a.yaml", "new.yaml"]
    assert checked_repo_state(repo, require_clean=False).dirty
    with pytest.raises(ConfigError, match=r"uncommitted changes \(experiment/a.yaml, new.yaml\) at commit"):
        checked_repo_state(repo, require_clean=True)
    assert repo_state(Path(tmp_path / "nowhere")).commit == ""


def test_a_run_says_its_config_commit_and_whether_the_repo_was_dirty():
    from runner.provenance import ConfigRepoState, repo_line

    assert repo_line(ConfigRepoState(path="/r")) == ""  # not in git: nothing to say
    assert repo_line(ConfigRepoState(path="/r", commit="a" * 40)) == f"config repo /r at commit {'a' * 12}"
    dirty = repo_line(ConfigRepoState(path="/r", commit="a" * 40, dirty=True, changes=[f"f{i}.yaml" for i in range(7)]))
    assert dirty.endswith("dirty: uncommitted changes in f0.yaml, f1.yaml, f2.yaml, f3.yaml, f4.yaml ..."), dirty
