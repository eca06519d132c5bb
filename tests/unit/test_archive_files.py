"""A sweep's archive parts: written whole (temp name, then rename), refused outside the run root, read
back in order with the latest record of each trial, and fetched from shared storage when missing here."""

from __future__ import annotations

import pytest
from temporalio.exceptions import ApplicationError

from activities.archive import archive_sweep_records, load_archived_trials, part_path, read_archive
from activities.shared_storage import configure_storage
from workflows.sweep_records import ArchiveIndex, ArchiveRequest, Decision, LoadRequest, TrialState


def trial(number: int, state: str) -> TrialState:
    return TrialState(number=number, params={"optim.lr": 0.001 * number}, state=state, rung=0, metrics=[0.5])


def test_parts_round_trip_through_shared_storage(tmp_path):
    run_root, remote = tmp_path / "runs", tmp_path / "remote"
    folder = run_root / "sweeps" / "s-1"
    configure_storage(f"file://{remote}", str(run_root))
    try:
        archive_sweep_records(ArchiveRequest(folder=str(folder), index=1, run_root=str(run_root),
                                             trials=[trial(1, "stopped"), trial(2, "waiting")],
                                             decisions=[Decision("stop", 1, 0, "ladder")]))
        archive_sweep_records(ArchiveRequest(folder=str(folder), index=2, run_root=str(run_root),
                                             trials=[trial(2, "completed")], decisions=[Decision("promote", 2, 0, "x")]))
        assert sorted(p.name for p in folder.iterdir()) == ["part-000001.json", "part-000002.json"]  # no temp left
        for index in (1, 2):
            part_path(folder, index).unlink()  # another machine: only the shared copy is there
        trials, decisions = read_archive(ArchiveIndex(folder=str(folder), parts=2, trials=3))
        assert [(t.number, t.state) for t in trials] == [(1, "stopped"), (2, "completed")]  # the later part wins
        assert [d.kind for d in decisions] == ["stop", "promote"]
        (loaded,) = load_archived_trials(LoadRequest(folder=str(folder), run_root=str(run_root), numbers=[2], parts=[1]))
        assert (loaded.number, loaded.state, loaded.params) == (2, "waiting", {"optim.lr": 0.002})
        with pytest.raises(ApplicationError, match="not in the sweep archive"):
            load_archived_trials(LoadRequest(folder=str(folder), run_root=str(run_root), numbers=[7], parts=[1]))
        with pytest.raises(FileNotFoundError, match="part-000003.json is missing"):
            read_archive(ArchiveIndex(folder=str(folder), parts=3))
    finally:
        configure_storage("", "")


def test_a_folder_outside_the_run_root_is_refused(tmp_path):
    with pytest.raises(ApplicationError, match="escapes"):
        archive_sweep_records(ArchiveRequest(folder=str(tmp_path / "elsewhere"), index=1,
                                             run_root=str(tmp_path / "runs")))
