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
from temporalio.exceptions import ApplicationError

from activities.errors import non_retryable
from activities.paths import confined
from activities.shared_storage import storage
from workflows.payloads.errors import ConfigError
from workflows.payloads.records import ArchiveIndex, ArchiveRequest, Decision, LoadRequest, PbtStep, TrialState

ARCHIVE_ERROR_TYPE = "ArchiveError"


class ArchiveError(RuntimeError):
    """A part of a sweep's archive is missing or unreadable (not JSON, truncated, not a part): a retry
    reads the same bytes, so the load fails at once with the part named."""


def part_path(folder: str | Path, index: int) -> Path:
    return Path(folder) / f"part-{index:06d}.json"


def read_part(folder: str | Path, index: int) -> dict:
    """One part as written (fetched from shared storage when this machine lacks it); ArchiveError naming
    the file when it is missing here and there, or is not a whole part."""
    path = part_path(folder, index)
    if not path.is_file() and not storage().fetch_file(path):
        raise ArchiveError(f"sweep archive part {path} is missing (here and in shared storage); the sweep's "
                           f"history still holds its decisions and results")
    try:
        body = json.loads(path.read_bytes())
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise ArchiveError(f"sweep archive part {path} is unreadable ({type(error).__name__}: "
                           f"{str(error)[:120]}); it was changed or cut short after it was written") from error
    if not (isinstance(body, dict) and isinstance(body.get("trials"), list) and isinstance(body.get("decisions"), list)):
        raise ArchiveError(f"sweep archive part {path} is not a sweep archive part (it has no trials and decisions "
                           f"lists); it was changed after it was written")
    return body


def archive_failure(error: ArchiveError) -> ApplicationError:
    """Fail the activity at once: a retry would read the same missing or damaged part."""
    return ApplicationError(str(error), type=ARCHIVE_ERROR_TYPE, non_retryable=True)


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


def trial_record(record: dict) -> TrialState:
    """A trial from its archived JSON, its population-based training steps (`lineage`, `pending_exploit`)
    as `PbtStep`s rather than the dicts JSON gives back."""
    pending = record.get("pending_exploit")
    return TrialState(**{**record, "lineage": [PbtStep(**step) for step in record.get("lineage") or []],
                         "pending_exploit": PbtStep(**pending) if pending else None})


@activity.defn
def load_archived_trials(request: LoadRequest) -> list[TrialState]:
    """The archived records of parked trials (each from the part its entry names), for the sweep to train
    them again."""
    folder = archive_folder(request.folder, request.run_root)
    wanted: dict[int, set[int]] = {}
    for number, part in zip(request.numbers, request.parts, strict=False):
        wanted.setdefault(part, set()).add(number)
    found: dict[int, TrialState] = {}
    for part, numbers in sorted(wanted.items()):
        try:
            body = read_part(folder, part)
            found.update((t["number"], trial_record(t)) for t in body["trials"] if t["number"] in numbers)
        except ArchiveError as error:
            raise archive_failure(error) from error
        except (KeyError, TypeError) as error:  # a record that is not a trial's
            raise archive_failure(ArchiveError(f"sweep archive part {part_path(folder, part)} holds a record that "
                                               f"is not a trial ({type(error).__name__}: {error})")) from error
    missing = [n for n in request.numbers if n not in found]
    if missing:
        raise non_retryable(ConfigError(f"trials {missing} are not in the sweep archive parts {request.parts}"))
    return [found[n] for n in request.numbers]


def read_archive(index: ArchiveIndex) -> tuple[list[TrialState], list[Decision]]:
    """Every archived trial (the latest record of each, by number) and every archived decision, in the
    order they were made. A part missing here is fetched from shared storage; one missing there too, or
    damaged, is an ArchiveError naming it (the sweep's history still holds every decision and result)."""
    trials: dict[int, TrialState] = {}
    decisions: list[Decision] = []
    for i in range(1, index.parts + 1):
        body = read_part(index.folder, i)
        try:
            trials.update((t["number"], trial_record(t)) for t in body["trials"])
            decisions.extend(Decision(**d) for d in body["decisions"])
        except (KeyError, TypeError) as error:
            raise ArchiveError(f"sweep archive part {part_path(index.folder, i)} holds a record that is not a trial or "
                               f"decision ({type(error).__name__}: {error})") from error
    return [trials[n] for n in sorted(trials)], decisions
