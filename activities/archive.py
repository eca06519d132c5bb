"""A sweep's archive: final trials and decisions that left the workflow's state, as JSON files.

`LadderSweepWorkflow` keeps in its state only what its next decisions need (live trials, the best few,
per-rung counts and scores); every other trial record, and every decision, goes to
`{run_root}/sweeps/{workflow_id}/part-{index:06d}.json` through `archive_sweep_records`, in batches. A
waiting trial's record goes too (the sweep keeps its result); once promoted it is loaded back
(`load_archived_trials`) to train. The runner reads the parts back (`read_archive`) to write sweep.json,
the leaderboard and the plots.

A part is written to a temporary name and renamed, so a reader never sees half a part, and writing it
again (an activity retry) gives the same file. With `storage.uri` set the part is uploaded too, and a
machine that lacks it fetches it.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import asdict
from pathlib import Path

from temporalio import activity

from activities.errors import ConfigError, non_retryable
from activities.paths import confined
from activities.shared_storage import storage
from workflows.sweep_records import ArchiveIndex, ArchiveRequest, Decision, LoadRequest, TrialState


def part_path(folder: str | Path, index: int) -> Path:
    return Path(folder) / f"part-{index:06d}.json"


def read_part(folder: str | Path, index: int) -> dict:
    """One part as written (fetched from shared storage when this machine lacks it)."""
    path = part_path(folder, index)
    if not path.is_file() and not storage().fetch_file(path):
        raise FileNotFoundError(f"sweep archive part {path} is missing")
    return json.loads(path.read_text())


def archive_folder(folder: str, run_root: str) -> Path:
    """The archive folder, resolved, if it lies inside the run root; else a non-retryable failure."""
    try:
        return confined(folder, run_root, "sweep archive folder")
    except ConfigError as error:
        raise non_retryable(error) from error


@activity.defn
def archive_sweep_records(request: ArchiveRequest) -> str:
    """Write one part of a sweep's archive (idempotent); returns its path."""
    folder = archive_folder(request.folder, request.run_root)
    folder.mkdir(parents=True, exist_ok=True)
    path = part_path(folder, request.index)
    body = {"index": request.index, "trials": [asdict(t) for t in request.trials],
            "decisions": [asdict(d) for d in request.decisions]}
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")
    tmp.write_text(json.dumps(body))
    os.replace(tmp, path)
    storage().push_file(path)
    return str(path)


@activity.defn
def load_archived_trials(request: LoadRequest) -> list[TrialState]:
    """The archived records of parked trials (each from the part its entry names), for the sweep to train
    them again."""
    folder = archive_folder(request.folder, request.run_root)
    wanted: dict[int, set[int]] = {}
    for number, part in zip(request.numbers, request.parts):
        wanted.setdefault(part, set()).add(number)
    found: dict[int, TrialState] = {}
    for part, numbers in sorted(wanted.items()):
        found.update((t["number"], TrialState(**t)) for t in read_part(folder, part)["trials"] if t["number"] in numbers)
    missing = [n for n in request.numbers if n not in found]
    if missing:
        raise non_retryable(ConfigError(f"trials {missing} are not in the sweep archive parts {request.parts}"))
    return [found[n] for n in request.numbers]


def read_archive(index: ArchiveIndex) -> tuple[list[TrialState], list[Decision]]:
    """Every archived trial (the latest record of each, by number) and every archived decision, in the
    order they were made. A part missing here is fetched from shared storage; one missing there too is an
    error naming it (the sweep's history still holds every decision and result)."""
    trials: dict[int, TrialState] = {}
    decisions: list[Decision] = []
    for i in range(1, index.parts + 1):
        body = read_part(index.folder, i)
        trials.update((t["number"], TrialState(**t)) for t in body["trials"])
        decisions.extend(Decision(**d) for d in body["decisions"])
    return [trials[n] for n in sorted(trials)], decisions
