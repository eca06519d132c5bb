"""The run root's folder layout, defined once: the workflows name the folders, the activities write and
confine to them, the runner finds and reads them.

    {run_root}/checkpoints/{workflow_id}/             a single run's checkpoints and logs
    {run_root}/checkpoints/{sweep_id}/trial{N}/       a sweep trial's (`trial_folder_name`)
    {run_root}/checkpoints/.../logs/                  Lightning's CSV logs, one version per segment
    {run_root}/snapshots/{snapshot_id}/               dataset snapshots
    {run_root}/sweeps/{sweep_id}/part-NNNNNN.json     a sweep's archive

Stdlib only: workflows import it inside their sandbox.
"""

from __future__ import annotations

CHECKPOINTS = "checkpoints"
"""Under the run root: one folder per run (its workflow id) with its checkpoints and logs."""
SNAPSHOTS = "snapshots"
"""Under the run root: one folder per dataset snapshot."""
SWEEPS = "sweeps"
"""Under the run root: one folder per sweep (its workflow id) with its archive parts."""
LOGS = "logs"
"""Under a run's or trial's checkpoint folder: Lightning's CSV logs (they stay when checkpoints are pruned)."""
TRIAL_PREFIX = "trial"
"""A sweep trial's checkpoint folder is this prefix and the trial number (`trial7`)."""


def checkpoint_root(run_root: str, workflow_id: str) -> str:
    """The checkpoint folder of a run, or of a sweep (its trials' folders lie inside)."""
    return f"{run_root}/{CHECKPOINTS}/{workflow_id}"


def archive_folder(run_root: str, workflow_id: str) -> str:
    """The folder of a sweep's archive parts."""
    return f"{run_root}/{SWEEPS}/{workflow_id}"


def trial_folder_name(number: int) -> str:
    """The name of trial `number`'s checkpoint folder inside its sweep's."""
    return f"{TRIAL_PREFIX}{number}"


def trial_of_folder(name: str) -> int | None:
    """The trial number of a trial's checkpoint folder name (`trial_folder_name`); None for another folder."""
    digits = name[len(TRIAL_PREFIX):]
    return int(digits) if name.startswith(TRIAL_PREFIX) and digits.isdigit() else None
