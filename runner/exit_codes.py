"""What `train-tune` exits with, decided in one place from the error a command raised or the outcome of
the run it followed:

| code | meaning                                                                       |
|------|-------------------------------------------------------------------------------|
| 0    | done: the run completed (a sweep with at least one trial that did not fail)   |
| 1    | the run failed: its workflow failed, or every trial of a sweep / some job of a multirun failed |
|      | (also: the server stopped serving while a run was followed; the run waits)    |
| 2    | bad config or input: nothing was started                                      |
| 3    | not found: no workflow with that ID (or no such run folder)                   |
| 130  | interrupted (Ctrl-C); Ctrl-C in `status` or `results` only stops watching (0) |

Errors name their code with an `exit_code` attribute (as `NotFound` and `RunFailed` do); `exit_code`
maps the others.

This module is imported before Hydra starts (`--help`, completion): what it needs of Temporal and of the
run's results is imported where a run's outcome is looked at."""

from __future__ import annotations

import logging
from typing import Any

from workflows.payloads.errors import ConfigError

DONE, FAILED, BAD_INPUT, NOT_FOUND, INTERRUPTED = 0, 1, 2, 3, 130


class NotFound(LookupError):
    """No workflow with that ID (exit code 3)."""

    exit_code = NOT_FOUND


class RunFailed(RuntimeError):
    """The run ended, but failed (exit code 1): its one-line reason."""

    exit_code = FAILED


class RunLeft(RuntimeError):
    """This process left a run that goes on without it (Ctrl-C, a server that stopped answering): one line
    saying what happened and the command that continues the run, and the exit code to leave with."""

    def __init__(self, message: str, exit_code: int, label: str = "") -> None:
        super().__init__(message)
        self.exit_code, self.label = exit_code, label


def exit_code(error: BaseException) -> int | None:
    """The exit code of an error a command raised, or None for an error nobody expected (a bug: it keeps
    its traceback)."""
    code = getattr(error, "exit_code", None)
    if isinstance(code, int):
        return code
    from temporalio.client import WorkflowFailureError

    if isinstance(error, WorkflowFailureError):
        return FAILED
    if isinstance(error, (ConfigError, LookupError)):
        return BAD_INPUT
    return None


def error_message(error: BaseException) -> str:
    """One line for the user: a failed workflow's root cause, else the error's own text."""
    from temporalio.client import WorkflowFailureError

    from workflows.coordinator import failure_message

    if isinstance(error, WorkflowFailureError):
        ended = _ended_without_failing(error.cause)
        return ended or failure_message(error)
    return str(error)


def _ended_without_failing(cause: BaseException | None) -> str:
    """Why a run ended that nothing inside failed: cancelled, terminated or timed out (else empty)."""
    from temporalio.exceptions import CancelledError, TerminatedError, TimeoutError

    if isinstance(cause, CancelledError):
        return "the run was cancelled (train-tune cancel); its trainings stopped at a checkpoint"
    if isinstance(cause, TerminatedError):
        return f"the run was terminated{': ' + cause.message if cause.message else ''}"
    if isinstance(cause, TimeoutError):
        return "the run timed out (its workflow's execution timeout)"
    return ""


def check_outcome(workflow_id: str, result: Any) -> None:
    """Raise RunFailed when a finished run's result says it failed: a sweep whose every trial failed, a
    coordinator (multirun, variants) with a failed job. A single run's failure is its workflow's."""
    from runner.sweep_results import with_archive
    from workflows.payloads.runs import CoordinatorStatus
    from workflows.payloads.sweep import LadderSweepResult

    if isinstance(result, LadderSweepResult):
        trials = with_archive(result).trials if result.archive.parts else result.trials
        if trials and all(t.state == "failed" for t in trials):
            raise RunFailed(f"sweep {workflow_id}: every trial failed ({len(trials)}); trial {trials[0].number}: "
                            f"{first_line(trials[0].error)}")
    elif isinstance(result, CoordinatorStatus):
        failed = [job for job in result.jobs if job.state == "failed"]
        if failed:
            raise RunFailed(f"{workflow_id}: {len(failed)} of {len(result.jobs)} jobs failed; job {failed[0].index}: "
                            f"{first_line(failed[0].error)}")


def check_status(workflow_id: str, status_name: str) -> None:
    """Raise RunFailed for a workflow that ended without completing (failed, cancelled, terminated, timed out)."""
    if status_name not in ("RUNNING", "COMPLETED", "CONTINUED_AS_NEW"):
        raise RunFailed(f"{workflow_id} ended {status_name}")


def first_line(text: str) -> str:
    return (text or "no error recorded").strip().splitlines()[0] if (text or "").strip() else "no error recorded"


class OneLineFailures:
    """A logging filter: an activity failure logged with its traceback (the SDK's "Completing activity as
    failed") becomes one line naming the error, so the runner's own workers print no traceback; the run's
    failure is then reported once, as one line, with its exit code. `train-tune worker` keeps tracebacks."""

    def filter(self, record: Any) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            record.msg = f"{record.getMessage()}: {type(error).__name__}: {first_line(str(error))}"
            record.args, record.exc_info, record.exc_text = (), None, None
        return True


def one_line_activity_failures() -> None:
    for name in ("temporalio.activity", "temporalio.worker._activity"):
        logging.getLogger(name).addFilter(OneLineFailures())
