"""`train-tune results ID --optuna-storage PATH [--follow]`: a sweep or multirun as an Optuna study that
`optuna-dashboard` opens (`runner.optuna_study` says what the study holds, `runner.optuna_storage` where
and how it is written). Once: the run's results as they are (a running run's so far). `--follow`: the
study is written again whenever the run changes, until it ends (Ctrl-C stops following, not the run).
"""

from __future__ import annotations

import argparse
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from runner.optuna_storage import StudyTarget, SyncReport, fingerprint, open_storage, study_target, sync_study
from runner.optuna_study import StudyContent, StudySource
from runner.submit import console, poll_until_done
from workflows.payloads.errors import ConfigError

FOLLOW_POLL_S = 2.0
"""How often `--follow` reads the run (each read that changed something writes the study)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--optuna-storage", default=None, metavar="PATH",
                        help="also write it as an Optuna study: PATH.log (journal file) or PATH.db / sqlite:///PATH")
    parser.add_argument("--follow", action="store_true",
                        help="with --optuna-storage: keep the study up to date until the run ends")


def checked_target(args: argparse.Namespace) -> StudyTarget | None:
    """The checked `--optuna-storage` (None when not given), before anything connects."""
    if args.follow and not args.optuna_storage:
        raise ConfigError("--follow keeps an Optuna study up to date while the run goes on; add --optuna-storage PATH")
    return study_target(args.optuna_storage) if args.optuna_storage else None


async def study_source(kind: Any, client: Any, handle: Any, description: Any, memo: dict[str, Any]) -> StudySource:
    """How the run becomes a study; LookupError (exit 2) for a kind of run that has no trials."""
    if kind.study is None:
        raise LookupError(f"{handle.id} is a {description.workflow_type} (a single run); --optuna-storage writes "
                          f"ladder sweeps (LadderSweepWorkflow) and multiruns (CoordinatorWorkflow) as Optuna studies")
    return await kind.study(client, handle, memo)


@dataclass
class StudyWriter:
    """Writes one run's study to one storage, opened once, skipping a write when nothing changed."""

    target: StudyTarget
    storage: Any = None
    written: list[str] = field(default_factory=list)

    def write(self, content: StudyContent) -> SyncReport | None:
        """Sync the study; None when it is what was written last (or the view was partial: `sync_study`)."""
        shape = [content.direction, content.metric, sorted(content.attrs.items(), key=str),
                 [fingerprint(t) for t in content.trials]]
        key = repr(shape)
        if self.written and self.written[-1] == key:
            return None
        if self.storage is None:
            self.storage = open_storage(self.target)
        report = sync_study(self.storage, content)
        self.written[:] = [] if report.skipped else [key]
        return None if report.skipped else report


def summary_line(target: StudyTarget, content: StudyContent) -> str:
    """'optuna study ID in PATH: N trials (3 COMPLETE, 5 PRUNED); open it with: optuna-dashboard URL'."""
    states = Counter(t.state.name for t in content.trials)
    counts = ", ".join(f"{count} {state}" for state, count in sorted(states.items()))
    return (f"optuna study {content.name} in {target.path}: {len(content.trials)} trials ({counts or 'none yet'}); "
            f"open it with: optuna-dashboard {target.url}")


def write_once(target: StudyTarget, content: StudyContent) -> None:
    """Write the study and say where it is."""
    StudyWriter(target).write(content)
    console.print(summary_line(target, content), highlight=False, markup=False, soft_wrap=True)


async def follow_study(handle: Any, source: StudySource, target: StudyTarget) -> None:
    """Write the study whenever the running run changes, until it ends."""
    writer = StudyWriter(target)

    def show(result: Any) -> None:
        content = source.content(result, "RUNNING")
        if writer.write(content) is not None:
            console.print(summary_line(target, content), highlight=False, markup=False, soft_wrap=True)

    console.print(f"following {handle.id}: its study in {target.path} is updated as it changes (Ctrl-C stops "
                  f"following, not the run)", highlight=False, markup=False, soft_wrap=True)
    await poll_until_done(handle, source.current, show, poll_s=FOLLOW_POLL_S)  # `results` then writes its end
