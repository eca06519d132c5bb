"""A sweep's archive parts: written whole (temp name, then rename), refused outside the run root, read
back in order with the latest record of each trial, and fetched from shared storage when missing here."""

from __future__ import annotations

import pytest
from temporalio.exceptions import ApplicationError

from activities.archive import ArchiveError, archive_sweep_records, load_archived_trials, part_path, read_archive
from activities.shared_storage import configure_storage
from workflows.payloads.records import ArchiveIndex, ArchiveRequest, Decision, LoadRequest, PbtStep, TrialState


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
        with pytest.raises(ArchiveError, match="part-000003.json is missing"):
            read_archive(ArchiveIndex(folder=str(folder), parts=3))
    finally:
        configure_storage("", "")



def test_a_pbt_member_s_lineage_comes_back_as_steps(tmp_path):
    run_root = tmp_path / "runs"
    folder = run_root / "sweeps" / "s-1"
    member = trial(3, "completed")
    member.lineage = [PbtStep(0, 3, {"optim.lr": 0.003}),
                      PbtStep(100, 1, {"optim.lr": 0.0012}, {"optim.lr": "x1.2"}, 0.41)]
    member.pending_exploit = PbtStep(200, 0, {"optim.lr": 0.0008}, {"optim.lr": "x0.8"}, 0.39)
    archive_sweep_records(ArchiveRequest(folder=str(folder), index=1, run_root=str(run_root), trials=[member]))
    (read,), _ = read_archive(ArchiveIndex(folder=str(folder), parts=1, trials=1))
    (loaded,) = load_archived_trials(LoadRequest(folder=str(folder), run_root=str(run_root), numbers=[3], parts=[1]))
    for back in (read, loaded):
        assert back.lineage == member.lineage and back.pending_exploit == member.pending_exploit
        assert [step.source for step in back.lineage] == [3, 1]  # steps, not the dicts JSON gives back

def test_a_folder_outside_the_run_root_is_refused(tmp_path):
    with pytest.raises(ApplicationError, match="escapes"):
        archive_sweep_records(ArchiveRequest(folder=str(tmp_path / "elsewhere"), index=1,
                                             run_root=str(tmp_path / "runs")))


DAMAGED = {
    "truncated": b'{"index": 1, "trials": [{"number": 2, "params": {"optim.lr": 0.0',
    "not JSON": b"\x00\xff\x17 garbage",
    "not a part": b'{"index": 1}',
    "not a trial": b'{"index": 1, "trials": [{"numbr": 2}], "decisions": []}',
    "missing": None,
}


@pytest.mark.parametrize("damage", list(DAMAGED))
def test_a_damaged_or_missing_part_fails_the_load_at_once_naming_it(tmp_path, damage):
    """Today's load retried for ever (a JSONDecodeError or FileNotFoundError is retryable) and the sweep
    hung: a missing or damaged part is a non-retryable ArchiveError with the part's path."""
    from activities.archive import ARCHIVE_ERROR_TYPE

    run_root = tmp_path / "runs"
    folder = run_root / "sweeps" / "s-1"
    archive_sweep_records(ArchiveRequest(folder=str(folder), index=1, run_root=str(run_root),
                                         trials=[trial(2, "waiting")], decisions=[Decision("stop", 1, 0, "ladder")]))
    part = part_path(folder, 1)
    if DAMAGED[damage] is None:
        part.unlink()
    else:
        part.write_bytes(DAMAGED[damage])
    with pytest.raises(ApplicationError) as raised:
        load_archived_trials(LoadRequest(folder=str(folder), run_root=str(run_root), numbers=[2], parts=[1]))
    assert raised.value.non_retryable and raised.value.type == ARCHIVE_ERROR_TYPE
    assert str(part) in raised.value.message and "\n" not in raised.value.message
    with pytest.raises(ArchiveError, match=f"sweep archive part {part}"):
        read_archive(ArchiveIndex(folder=str(folder), parts=1))


def test_results_of_a_sweep_with_a_damaged_part_is_one_line_naming_it_and_exit_1(tmp_path, capsys, monkeypatch):
    """`train-tune results` merges the archive (`with_archive`); a damaged part ends the command with one
    line naming the file and exit status 1, not a traceback."""
    from runner import commands
    from runner.sweep_results import with_archive
    from workflows.payloads.sweep import LadderSweepResult

    folder = tmp_path / "sweeps" / "s-1"
    folder.mkdir(parents=True)
    part_path(folder, 1).write_text('{"index": 1, "trials": [')
    result = LadderSweepResult(trials=[], decisions=[], best_trial=-1, total_steps=0,
                               archive=ArchiveIndex(folder=str(folder), parts=1, trials=1))

    async def results(args, config, run_root):  # the step of `results` that reads the archive back
        with_archive(result)

    monkeypatch.setitem(commands.COMMANDS, "results", results)
    connection = {"run_root": str(tmp_path), "storage": {"uri": "", "endpoint_url": ""}}
    with pytest.raises(SystemExit) as exited:
        commands.run_command("results", ["s-1"], lambda overrides: connection)
    assert exited.value.code == 1
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 and str(part_path(folder, 1)) in lines[0] and "unreadable" in lines[0], lines
