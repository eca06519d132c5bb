"""Where `--optuna-storage PATH` writes a study, and writing it so that a re-export updates it.

The path picks the storage: `sqlite:///FILE` or a file ending in .db, .sqlite or .sqlite3 is an SQLite
database (Optuna's RDBStorage); any other file is an Optuna journal file (JournalStorage with a
JournalFileBackend; .log by convention). Both are what `optuna-dashboard` opens.

The study's name is the workflow id. Writing it again (`sync_study`) changes only what changed: trials
already final are left alone, running ones are updated in place (parameters, intermediate values, state,
user attributes) and new ones appended, so the study keeps its id (an open dashboard keeps showing it) and
a journal file grows by the changes only. Only when a recorded trial cannot become what the run now says
(a final trial that changed: `extend --rungs` re-opened it) is the study deleted and written afresh.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.optuna_study import TRIAL_KEY, StudyContent
from workflows.payloads.errors import ConfigError

SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
SQLITE_URL = "sqlite:///"


@dataclass(frozen=True)
class StudyTarget:
    """A checked `--optuna-storage` value: the file, and whether it is an SQLite database or a journal."""

    path: Path
    sqlite: bool

    @property
    def url(self) -> str:
        """What `optuna.load_study(storage=...)` and `optuna-dashboard` take for it."""
        return f"{SQLITE_URL}{self.path}" if self.sqlite else str(self.path)


def study_target(value: str) -> StudyTarget:
    """The storage `value` names; ConfigError (exit 2, one line) for a folder that does not exist, a path
    that is a folder, a database URL other than SQLite's, or a file that holds no study storage of its kind."""
    where = f"--optuna-storage is '{value}'"
    if "://" in value and not value.startswith(SQLITE_URL):
        raise ConfigError(f"{where}, but must be a file path (a journal file, e.g. study.log; an SQLite file, "
                          f"e.g. study.db) or {SQLITE_URL}FILE")
    sqlite = value.startswith(SQLITE_URL)
    path = Path(value.removeprefix(SQLITE_URL) if sqlite else value).expanduser().resolve()
    if not path.parent.is_dir():
        raise ConfigError(f"{where}, but its folder {path.parent} does not exist; create it or name a file in an "
                          f"existing folder")
    if path.is_dir():
        raise ConfigError(f"{where}, which is a folder; name a file in it (e.g. {path / 'study.log'})")
    target = StudyTarget(path, sqlite or path.suffix in SQLITE_SUFFIXES)
    try:
        _check_kind(target)
    except ValueError as error:
        raise _not_a_study(target, error) from error
    return target


def open_storage(target: StudyTarget):
    """The Optuna storage of `target` (created if missing); ConfigError for a file that is neither."""
    import optuna  # slow to import: only the export needs it
    from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        _check_kind(target)
        if target.sqlite:
            return optuna.storages.RDBStorage(target.url)
        storage = optuna.storages.JournalStorage(JournalFileBackend(str(target.path)))
        optuna.get_all_study_names(storage)  # reads the whole log: a file that is not a journal fails here
        return storage
    except Exception as error:  # whatever the file held, the user gets one line naming it
        raise _not_a_study(target, error) from error


def _not_a_study(target: StudyTarget, error: Exception) -> ConfigError:
    kind = "an SQLite database" if target.sqlite else "an Optuna journal file"
    return ConfigError(f"--optuna-storage file {target.path} is not {kind} ({type(error).__name__}: "
                       f"{str(error).splitlines()[0] if str(error) else ''}); name a new file")


def _check_kind(target: StudyTarget) -> None:
    """An existing file must already be a study storage of its kind: the journal backend skips a line it
    cannot read (a torn last write) and would append to anyone's file."""
    if not target.path.is_file() or target.path.stat().st_size == 0:
        return
    with target.path.open("rb") as file:
        head = file.readline(1 << 20)
    if target.sqlite:
        if not head.startswith(b"SQLite format 3\x00"):
            raise ValueError("no SQLite header")
    else:
        try:
            entry = json.loads(head)
        except ValueError:
            entry = None
        if not isinstance(entry, dict) or "op_code" not in entry:
            raise ValueError("its first line is no journal entry")


def fingerprint(trial: Any, attrs: bool = True) -> str:
    """What a trial records (with its user attributes or not), comparable across a storage round trip
    (NaN equals NaN)."""
    from optuna.distributions import distribution_to_json

    return json.dumps([trial.state.name, trial.values, trial.params,
                       {k: distribution_to_json(d) for k, d in trial.distributions.items()},
                       sorted(trial.intermediate_values.items()), trial.user_attrs if attrs else {}],
                      sort_keys=True, default=str)


def _updatable(have: Any, want: Any) -> bool:
    """A recorded trial can become `want` in place: the same run trial, still RUNNING (its parameters a
    subset of `want`'s), or final with the same outcome (Optuna keeps a final trial's user attributes as
    they were when it ended)."""
    if have.user_attrs.get(TRIAL_KEY) != want.user_attrs.get(TRIAL_KEY):
        return False
    if have.state.name != "RUNNING":
        return fingerprint(have, attrs=False) == fingerprint(want, attrs=False)
    return all(
        key in want.params and want.params[key] == value and want.distributions[key] == have.distributions[key]
        for key, value in have.params.items())


@dataclass
class SyncReport:
    """What `sync_study` did."""

    added: int = 0
    updated: int = 0
    recreated: bool = False
    skipped: bool = False
    """Nothing written: the run's view lacked trials the study has (it is written at the next look)."""


def numbered(trials: list[Any]) -> list[Any]:
    """The trials numbered 0, 1, 2, ... without a gap (Optuna numbers a study's trials so): those before the
    first missing number. A running sweep's view can miss a trial for a moment, while it moves records to
    its archive; its final result has them all."""
    by_number = {t.user_attrs.get(TRIAL_KEY): t for t in trials}
    prefix: list[Any] = []
    while len(prefix) in by_number:
        prefix.append(by_number[len(prefix)])
    return prefix


def sync_study(storage: Any, content: StudyContent) -> SyncReport:
    """Make the study `content.name` in `storage` hold `content` (see the module docstring)."""
    import optuna  # slow to import: only the export needs it

    report = SyncReport()
    trials = numbered(content.trials)
    study = None
    if content.name in optuna.get_all_study_names(storage):
        study = optuna.load_study(study_name=content.name, storage=storage)
        have = study.get_trials(deepcopy=False)
        if len(have) > len(trials) and content.attrs.get("status") == "RUNNING":
            report.skipped = True  # a view that lacks trials it showed: a running sweep archiving a part
            return report
        if (study.direction.name.lower() != content.direction or len(have) > len(trials)
                or not all(_updatable(h, w) for h, w in zip(have, trials, strict=False))):
            optuna.delete_study(study_name=content.name, storage=storage)
            study, report.recreated = None, True
    if study is None:
        study = optuna.create_study(study_name=content.name, storage=storage,
                                    direction=optuna.study.StudyDirection[content.direction.upper()])
    have = study.get_trials(deepcopy=False)
    study_id = storage.get_study_id_from_name(content.name)
    for number, want in enumerate(trials):
        if number >= len(have):
            study.add_trial(want)
            report.added += 1
        elif have[number].state.name == "RUNNING" and fingerprint(have[number]) != fingerprint(want):
            _update(storage, storage.get_trial_id_from_study_id_trial_number(study_id, number), have[number], want)
            report.updated += 1
    for key, value in content.attrs.items():
        if study.user_attrs.get(key) != value:
            study.set_user_attr(key, value)
    if study.metric_names != [content.metric]:
        _set_metric_name(study, content.metric)
    return report


def _update(storage: Any, trial_id: int, have: Any, want: Any) -> None:
    """Bring a RUNNING trial to `want` through the storage's own interface."""
    for key, value in want.params.items():
        if key not in have.params:
            distribution = want.distributions[key]
            storage.set_trial_param(trial_id, key, distribution.to_internal_repr(value), distribution)
    for step, value in want.intermediate_values.items():
        if repr(have.intermediate_values.get(step)) != repr(value):  # repr: NaN equals NaN
            storage.set_trial_intermediate_value(trial_id, step, value)
    for key, value in want.user_attrs.items():
        if have.user_attrs.get(key) != value:
            storage.set_trial_user_attr(trial_id, key, value)
    if want.state.name != "RUNNING":
        storage.set_trial_state_values(trial_id, want.state, want.values)


def _set_metric_name(study: Any, metric: str) -> None:
    import warnings

    import optuna  # slow to import: only the export needs it

    with warnings.catch_warnings():  # experimental since Optuna 3.2, and what the dashboard labels axes with
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names([metric])
