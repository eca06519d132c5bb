"""Exit codes decided in one place (runner/exit_codes.py): each error and each run outcome maps to the
documented code, and an activity failure the runner's workers log is one line, without a traceback."""

from __future__ import annotations

import logging

import pytest

from runner.exit_codes import (
    BAD_INPUT,
    FAILED,
    NOT_FOUND,
    NotFound,
    OneLineFailures,
    RunFailed,
    check_outcome,
    check_status,
    error_message,
    exit_code,
)
from workflows.payloads.errors import ConfigError
from workflows.payloads.records import TrialState
from workflows.payloads.runs import CoordinatorStatus, JobState
from workflows.payloads.sweep import LadderSweepResult


class ExportNotFound(LookupError):
    exit_code = 3  # as runner.export.NotFound: an error may carry its own code


def test_each_error_has_its_code():
    assert exit_code(ConfigError("trainer.max_steps is 0, but must be > 0")) == BAD_INPUT == 2
    assert exit_code(LookupError("--trial is 99, but ...")) == BAD_INPUT
    assert exit_code(NotFound("no workflow 'x'")) == NOT_FOUND == 3
    assert exit_code(ExportNotFound("no such run folder")) == NOT_FOUND
    assert exit_code(RunFailed("sweep s: every trial failed")) == FAILED == 1
    assert exit_code(ZeroDivisionError()) is None  # a bug keeps its traceback


def trial(number: int, state: str, error: str = "") -> TrialState:
    return TrialState(number=number, params={"optim.lr": 0.1}, state=state, error=error)


def sweep(*trials: TrialState) -> LadderSweepResult:
    return LadderSweepResult(trials=list(trials), decisions=[], best_trial=-1, total_steps=0)


def test_a_sweep_fails_only_when_every_trial_failed():
    with pytest.raises(RunFailed, match="every trial failed .2.; trial 0: OutOfMemory: out of memory"):
        check_outcome("s", sweep(trial(0, "failed", "OutOfMemory: out of memory\nmore"), trial(1, "failed")))
    check_outcome("s", sweep(trial(0, "failed"), trial(1, "completed")))
    check_outcome("s", sweep())  # stopped before any trial started: nothing failed


def test_a_multirun_fails_when_a_job_failed():
    jobs = [JobState(index=0, overrides=[], workflow_id="a", state="completed"),
            JobState(index=1, overrides=[], workflow_id="b", state="failed", error="TrainingDiverged: loss is nan")]
    with pytest.raises(RunFailed, match="1 of 2 jobs failed; job 1: TrainingDiverged"):
        check_outcome("c", CoordinatorStatus(name="c", parallelism=2, done=True, jobs=jobs))
    check_outcome("c", CoordinatorStatus(name="c", parallelism=2, done=True, jobs=jobs[:1]))


@pytest.mark.parametrize("status, fails", [("COMPLETED", False), ("RUNNING", False), ("CONTINUED_AS_NEW", False),
                                           ("FAILED", True), ("CANCELED", True), ("TERMINATED", True),
                                           ("TIMED_OUT", True)])
def test_a_workflow_that_ended_without_completing_failed(status, fails):
    if fails:
        with pytest.raises(RunFailed, match=f"w ended {status}"):
            check_status("w", status)
    else:
        check_status("w", status)


def test_activity_failures_are_logged_in_one_line():
    try:
        raise ValueError("hidden size 65 is not a multiple of 2\nsecond line")
    except ValueError as error:
        record = logging.LogRecord("temporalio.activity", logging.WARNING, __file__, 1, "Completing activity as failed "
                                   "(%s)", ("train",), (type(error), error, error.__traceback__))
    assert OneLineFailures().filter(record)
    assert record.exc_info is None
    assert logging.Formatter().format(record) == ("Completing activity as failed (train): ValueError: hidden size 65 "
                                                  "is not a multiple of 2")


def test_an_embedded_server_that_cannot_serve_is_a_failed_run_not_bad_input():
    from runner.embedded_server import EmbeddedServerError
    from runner.exit_codes import exit_code

    assert exit_code(EmbeddedServerError("temporal.sqlite is damaged")) == 1


def test_a_run_that_was_cancelled_terminated_or_timed_out_says_so():
    """A followed run ended from outside (another terminal's `cancel`, a terminate, its execution timeout):
    one line saying how, not the SDK's "Workflow execution failed"; exit code 1 as the README's table says."""
    from temporalio.client import WorkflowFailureError
    from temporalio.exceptions import ApplicationError, CancelledError, TerminatedError, TimeoutError, TimeoutType

    def failure(cause: BaseException) -> WorkflowFailureError:
        error = WorkflowFailureError(cause=cause)
        error.__cause__ = cause
        return error

    cancelled = failure(CancelledError("Workflow cancelled"))
    assert error_message(cancelled).startswith("the run was cancelled") and exit_code(cancelled) == FAILED
    assert error_message(failure(TerminatedError("by an operator"))) == "the run was terminated: by an operator"
    assert error_message(failure(TimeoutError("timed out", type=TimeoutType.START_TO_CLOSE, last_heartbeat_details=[]))
                         ).startswith("the run timed out")
    assert error_message(failure(ApplicationError("boom", type="ValueError"))) == "ValueError: boom"
