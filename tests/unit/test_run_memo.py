"""Every run kind's memo stays under Temporal's 2 KB warning limit (TMPRL1103), however big its config:
the resolved config, a sweep's identity and a multirun's jobs live in a file under run_root, and the
readers get them back (also from memos recorded with them inline)."""

from __future__ import annotations

import json

import pytest

from runner.resolve import resolve_run
from runner.run_memo import (
    MEMO_WARNING_BYTES,
    StoredConfigMissing,
    coordinator_memo,
    full_memo,
    memo_bytes,
    memo_config,
    single_memo,
    sweep_memo,
)
from runner.sweep_config import resolve_sweep
from runner.sweep_session import sweep_identity
from tests.conftest import compose_config
from workflows.payloads.runs import CoordinatorJob

LONG_TEXTS = "predict_texts=[" + ",".join(f"'{'a long text to label ' * 12}{i}'" for i in range(20)) + "]"
BIG = ("experiment=bert_sweep", LONG_TEXTS, "search_space.params=[{key: optim.lr, low: 1e-5, high: 1e-2}, "
       "{key: optim.weight_decay, low: 0.0, high: 0.1}, {key: model.dropout, low: 0.0, high: 0.3}, "
       "{key: trainer.batch_size, type: categorical, choices: [8, 16, 32, 64]}]")
LABELS = {"config_repo": {"path": "/home/someone/" + "deep/" * 30 + "team-configs", "commit": "f" * 40, "dirty": True}}


def big_plain(run_root):
    run, plain = resolve_run(compose_config(*BIG, f"run_root={run_root}"))  # the memo's file goes there
    assert len(json.dumps(plain)) > 3 * MEMO_WARNING_BYTES  # the config alone would be far over the limit
    return run, plain


def test_a_single_runs_memo_is_small_and_reads_back_its_config(tmp_path):
    run, plain = big_plain(tmp_path)
    memo = single_memo(plain, run.config_hash, LABELS, str(tmp_path))
    assert memo_bytes(memo) < MEMO_WARNING_BYTES // 2
    assert "config" not in memo and memo["config_file"].startswith(str(tmp_path.resolve()))
    assert memo_config(full_memo(memo)) == json.loads(json.dumps(plain))
    assert full_memo(memo)["config_repo"] == LABELS["config_repo"]


def test_a_sweeps_memo_is_small_and_keeps_its_identity(tmp_path):
    run, plain = big_plain(tmp_path)
    sweep = resolve_sweep(run, plain)
    identity = sweep_identity(sweep, plain, "f" * 40)
    memo = sweep_memo(sweep.name, identity, plain, run.config_hash, sweep.parallelism, str(tmp_path / "out"),
                      LABELS, str(tmp_path))
    assert memo_bytes(memo) < MEMO_WARNING_BYTES // 2
    full = full_memo(memo)
    assert full["identity"] == json.loads(json.dumps(identity, default=str)) and full["name"] == sweep.name
    assert memo_config(full)["direction"] == plain["direction"]


def test_a_multiruns_memo_is_small_with_many_jobs(tmp_path):
    run, _ = big_plain(tmp_path)
    jobs = [CoordinatorJob(index=i, overrides=[f"optim.lr={i}e-5", f"seed={i}", "dataset.max_length=64"], run=run)
            for i in range(60)]
    memo = coordinator_memo(jobs, 4, str(tmp_path / "out"), LABELS)
    assert memo_bytes(memo) < MEMO_WARNING_BYTES // 2
    assert [job["index"] for job in full_memo(memo)["jobs"]] == list(range(60))


def test_a_memo_recorded_with_the_config_inline_reads_as_before():
    old = {"kind": "single", "config": {"direction": "maximize"}, "config_hash": "abc"}
    assert full_memo(old) is old and memo_config(old) == {"direction": "maximize"}


def test_a_changed_config_file_is_refused_in_one_line(tmp_path):
    run, plain = big_plain(tmp_path)
    memo = single_memo(plain, run.config_hash, LABELS, str(tmp_path))
    path = memo["config_file"]
    with open(path, "a") as file:
        file.write(" ")
    with pytest.raises(StoredConfigMissing, match="is missing or changed"):
        memo_config(full_memo(memo))
