"""Paths from config or requests stay inside the run root: '../' and absolute escapes are refused."""

from __future__ import annotations

import pytest

from activities.checkpoints import prune_checkpoint_files
from activities.paths import check_name, confined
from workflows.payloads.errors import ConfigError


def test_escapes_are_refused(tmp_path):
    root = tmp_path / "runs" / "checkpoints"
    root.mkdir(parents=True)
    assert confined(root / "sweep" / "trial0", root, "checkpoint_dir") == (root / "sweep" / "trial0").resolve()
    for escape in (root / ".." / "elsewhere", root / "sweep" / ".." / ".." / "x", "/etc", root):
        with pytest.raises(ConfigError, match="escapes"):
            confined(escape, root, "checkpoint_dir")
    (tmp_path / "outside").mkdir()
    (root / "link").symlink_to(tmp_path / "outside")  # a symlink out of the root is an escape too
    with pytest.raises(ConfigError, match="escapes"):
        confined(root / "link" / "trial0", root, "checkpoint_dir")


def test_pruning_never_deletes_outside_the_sweep(tmp_path):
    root = tmp_path / "checkpoints" / "sweep"
    victim = tmp_path / "precious"
    victim.mkdir(parents=True)
    (victim / "model.ckpt").write_bytes(b"keep me")
    root.mkdir(parents=True)
    with pytest.raises(ConfigError, match="escapes"):
        prune_checkpoint_files(root / ".." / ".." / "precious", root)
    assert (victim / "model.ckpt").read_bytes() == b"keep me"


@pytest.mark.parametrize("name", ["../../etc", "a/b", "", ".hidden", "x" * 101, "a..b"])
def test_names_that_become_folders_are_checked(name):
    with pytest.raises(ConfigError, match="experiment_name is"):
        check_name("experiment_name", name)


def test_ordinary_names_pass():
    for name in ("bert_sweep", "exp-1.2", "A1"):
        check_name("experiment_name", name)
