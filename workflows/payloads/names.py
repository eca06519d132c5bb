"""Wire names that more than one process spells: defined once, imported by the workflows, the activities
and the runner. Changing one changes the wire (running workflows would no longer receive or match it).

Stdlib only: workflows import it inside their sandbox.
"""

from __future__ import annotations

CONFIG_ERROR = "ConfigError"
"""`ApplicationError` type of bad input (a config error): never retried; the runner shows it as such."""
SOURCE_UNUSABLE = "SourceUnusable"
"""`ApplicationError` type of `copy_checkpoint` when the source's step checkpoint is missing or fails its
sha256 (never retried): PBT's exploit of that source is skipped ("exploit_skip"), the target trains on."""
JOB_PROGRESS_SIGNAL = "job_progress"
"""Signal a coordinator's job (a TrainEvalWorkflow) sends its parent with its progress."""
PROGRESS_SIGNAL = "report_progress"
"""Signal the training activity sends the workflow that runs it with its progress (`TrainProgress`)."""
