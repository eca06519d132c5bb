"""`results --optuna-storage`: a sweep's and a multirun's records as an Optuna study, loaded back with
`optuna.load_study` from a journal file and from SQLite (trials, parameters and their distributions,
values, intermediate values per rung step, states, user attributes); a second export updates the study in
place (no duplicate trials, the same study id); bad paths are one line."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import optuna
import pytest

from runner.optuna_results import StudyWriter
from runner.optuna_storage import open_storage, study_target, sync_study
from runner.optuna_study import TRIAL_KEY, coordinator_study, sweep_study
from workflows.payloads.errors import ConfigError
from workflows.payloads.records import Decision, TrialState
from workflows.payloads.runs import CoordinatorStatus, JobState
from workflows.payloads.specs import ParamSpec
from workflows.payloads.sweep import LadderSweepResult

SPACE = [ParamSpec("optim.lr", "float", 1e-5, 1e-2, log=True), ParamSpec("trainer.batch_size", "int", 8, 32, step=8),
         ParamSpec("optim.scheduler", "categorical", choices=["linear", "cosine"])]


def trial(number: int, state: str, losses: list[float], **more) -> TrialState:
    params = {"optim.lr": 1e-4 * (number + 1), "trainer.batch_size": 8 * (1 + number % 4),
              "optim.scheduler": ["linear", "cosine"][number % 2]}
    return TrialState(number=number, params=params, state=state, rung=len(losses) - 1, metrics=losses,
                      rung_steps=[10, 30][:len(losses)], checkpoint=f"/ck/trial{number}/last.ckpt",
                      best_checkpoint=f"/ck/trial{number}/best.ckpt",
                      rung_metrics=[{"val_loss": loss, "val_accuracy": 1 - loss / 2} for loss in losses], **more)


def sweep() -> LadderSweepResult:
    trials = [trial(0, "completed", [1.5, 1.1]), trial(1, "stopped", [1.7], demoted=True),
              trial(2, "failed", [], error="CUDA out of memory"), trial(3, "running", [1.3]),
              trial(4, "stopped", [float("nan")], demoted=True)]
    decisions = [Decision("propose", 0, 0, "proposed"), Decision("promote", 0, 0, "in the top 1/2 of 4 reported"),
                 Decision("stop", 1, 0, "not in the top 1/2")]
    return LadderSweepResult(trials=trials, decisions=decisions, best_trial=0, total_steps=100)


def content(result: LadderSweepResult | None = None, status: str = "COMPLETED"):
    return sweep_study("bert_sweep-sha-abc", result or sweep(), SPACE, "minimize", "val_loss", status)


def load(target, name: str = "bert_sweep-sha-abc") -> optuna.Study:
    """The study as a user loads it: an SQLite URL, or a journal file through its backend."""
    storage = target.url if target.sqlite else optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(target.path)))
    return optuna.load_study(study_name=name, storage=storage)


@pytest.fixture(params=["study.log", "study.db"])
def target(request, tmp_path):
    return study_target(str(tmp_path / request.param))


def test_a_sweep_loads_back_with_its_trials_params_values_rungs_states_and_attrs(target):
    sync_study(open_storage(target), content())
    study = load(target)
    assert study.direction == optuna.study.StudyDirection.MINIMIZE and study.metric_names == ["val_loss"]
    assert study.user_attrs["workflow_id"] == "bert_sweep-sha-abc" and study.user_attrs["best_trial"] == 0
    trials = study.get_trials()
    assert [t.number for t in trials] == [0, 1, 2, 3, 4]
    assert [t.user_attrs[TRIAL_KEY] for t in trials] == [0, 1, 2, 3, 4]
    assert [t.state.name for t in trials] == ["COMPLETE", "PRUNED", "FAIL", "RUNNING", "PRUNED"]
    first, pruned, failed, running, nan = trials
    assert first.value == 1.1 and first.intermediate_values == {10: 1.5, 30: 1.1}
    assert pruned.value == 1.7 and pruned.intermediate_values == {10: 1.7}  # as Optuna gives a pruned trial
    assert failed.values is None and failed.user_attrs["error"] == "CUDA out of memory"
    assert running.values is None and running.intermediate_values == {10: 1.3}
    assert nan.values is None and math.isnan(nan.intermediate_values[10])
    assert first.params == {"optim.lr": 1e-4, "trainer.batch_size": 8, "optim.scheduler": "linear"}
    assert first.distributions == {"optim.lr": optuna.distributions.FloatDistribution(1e-5, 1e-2, log=True),
                                   "trainer.batch_size": optuna.distributions.IntDistribution(8, 32, step=8),
                                   "optim.scheduler": optuna.distributions.CategoricalDistribution(["linear", "cosine"])}
    assert first.user_attrs["checkpoint"] == "/ck/trial0/last.ckpt"
    assert first.user_attrs["best_checkpoint"] == "/ck/trial0/best.ckpt"
    assert first.user_attrs["rung_steps"] == [10, 30]
    assert first.user_attrs["rung_metrics"][1]["val_accuracy"] == pytest.approx(0.45)
    assert first.user_attrs["decisions"] == ["propose rung 0: proposed", "promote rung 0: in the top 1/2 of 4 reported"]
    assert pruned.user_attrs["stopped_by"] == "ladder" and "demoted" in pruned.user_attrs["state"]


def test_exporting_again_updates_the_study_in_place(target):
    storage = open_storage(target)
    sync_study(storage, content(status="RUNNING"))
    first_id = storage.get_study_id_from_name("bert_sweep-sha-abc")
    again = sync_study(storage, content(status="RUNNING"))
    assert (again.added, again.updated, again.recreated) == (0, 0, False)

    # the running trial completes and a new one starts: updated and appended, the study kept
    ended = sweep()
    ended.trials[3] = trial(3, "completed", [1.3, 1.0])
    ended.trials.append(trial(5, "pending", []))
    ended.trials[5].params = {}
    report = sync_study(open_storage(target), content(ended))
    assert (report.added, report.updated, report.recreated) == (1, 1, False)
    study = load(target)
    assert storage.get_study_id_from_name("bert_sweep-sha-abc") == first_id
    assert study.user_attrs["status"] == "COMPLETED"
    trials = study.get_trials()
    assert len(trials) == 6 and trials[3].state.name == "COMPLETE" and trials[3].value == 1.0
    assert trials[3].intermediate_values == {10: 1.3, 30: 1.0} and trials[5].state.name == "RUNNING"

    # a final trial that changed (extend --rungs re-opened it) cannot be updated: the study is written afresh
    reopened = replace(ended, trials=[*ended.trials[:0], trial(0, "running", [1.5, 1.1]), *ended.trials[1:]])
    report = sync_study(open_storage(target), content(reopened))
    assert report.recreated and report.added == 6
    trials = load(target).get_trials()
    assert len(trials) == 6 and trials[0].state.name == "RUNNING"


def test_a_view_missing_trials_writes_only_what_it_can_and_never_recreates(tmp_path):
    """While a running sweep moves records to its archive its view may lack a trial for a moment."""
    target = study_target(str(tmp_path / "study.log"))
    storage = open_storage(target)
    gap = sweep()
    gap.trials = [t for t in gap.trials if t.number != 2]
    report = sync_study(storage, content(gap, "RUNNING"))
    assert report.added == 2 and [t.number for t in load(target).get_trials()] == [0, 1]  # up to the gap
    assert sync_study(storage, content(status="RUNNING")).added == 3
    missing = sync_study(storage, content(gap, "RUNNING"))
    assert missing.skipped and not missing.recreated and len(load(target).get_trials()) == 5
    assert storage.get_study_id_from_name("bert_sweep-sha-abc") == 0
    # a final trial's attributes that change later (its checkpoints pruned, say) do not make a new study
    later = sweep()
    later.trials[0].reason = "checkpoints pruned"
    assert not sync_study(storage, content(later, "RUNNING")).recreated
    # an ended run's result is whole: a study holding more trials than it is not its own, and is replaced
    assert sync_study(storage, content(gap, "COMPLETED")).recreated and len(load(target).get_trials()) == 2


def test_the_writer_skips_a_write_when_nothing_changed(tmp_path):
    target = study_target(str(tmp_path / "study.log"))
    writer = StudyWriter(target)
    assert writer.write(content()) is not None
    size = target.path.stat().st_size
    assert writer.write(content()) is None and target.path.stat().st_size == size
    fresh = StudyWriter(target).write(content())  # another process: compares with the file, writes nothing
    assert fresh is not None and (fresh.added, fresh.updated) == (0, 0) and target.path.stat().st_size == size


def test_a_multirun_is_a_study_of_its_jobs_with_their_overrides_as_categorical_params(target):
    jobs = [JobState(index=i, overrides=[f"optim.lr={lr}", f"seed={seed}"], workflow_id=f"job-{i}",
                     state="completed", step=20, val_metric=1.0 - i / 10, metrics={"accuracy": 0.5 + i / 10})
            for i, (lr, seed) in enumerate([("0.0001", 0), ("0.001", 0), ("0.0001", 1)])]
    jobs.append(JobState(index=3, overrides=["optim.lr=0.001", "seed=1"], workflow_id="job-3", state="failed",
                         error="boom"))
    status = CoordinatorStatus(name="bert_parallel", parallelism=2, done=True, jobs=jobs)
    sync_study(open_storage(target), coordinator_study("bert_parallel-x4-abc", status, "COMPLETED"))
    study = load(target, "bert_parallel-x4-abc")
    assert study.direction == optuna.study.StudyDirection.MAXIMIZE and study.metric_names == ["test_accuracy"]
    trials = study.get_trials()
    assert [t.state.name for t in trials] == ["COMPLETE", "COMPLETE", "COMPLETE", "FAIL"]
    assert [t.value for t in trials[:3]] == [0.5, 0.6, 0.7] and trials[0].intermediate_values == {20: 1.0}
    assert trials[2].params == {"optim.lr": 0.0001, "seed": 1}
    assert trials[2].distributions["optim.lr"] == optuna.distributions.CategoricalDistribution([0.0001, 0.001])
    assert trials[3].user_attrs["error"] == "boom" and trials[3].user_attrs["workflow_id"] == "job-3"


def test_the_dashboard_lists_the_study_and_its_trials(tmp_path):
    dashboard = pytest.importorskip("optuna_dashboard")  # the `dashboard` extra
    from wsgiref.util import setup_testing_defaults

    target = study_target(str(tmp_path / "study.log"))
    sync_study(open_storage(target), content())
    app = dashboard.wsgi(str(target.path))  # as `optuna-dashboard study.log` opens it

    def get(path: str) -> dict:
        environ: dict = {"PATH_INFO": path}
        setup_testing_defaults(environ)
        answer: list = []
        body = b"".join(app(environ, lambda status, headers, *_: answer.append(status)))
        assert answer[0].startswith("200"), (answer, body[:500])
        return json.loads(body)

    studies = get("/api/studies")["study_summaries"]
    assert [s["study_name"] for s in studies] == ["bert_sweep-sha-abc"]
    detail = get(f"/api/studies/{studies[0]['study_id']}")
    assert len(detail["trials"]) == 5 and detail["trials"][0]["values"] == [1.1]
    assert [t["number"] for t in detail["best_trials"]] == [0] and detail["has_intermediate_values"]


@pytest.mark.parametrize("value, expected", [
    ("{missing}/study.log", "its folder {missing} does not exist"),
    ("{tmp}", "which is a folder"),
    ("postgresql://db/optuna", "must be a file path"),
])
def test_a_bad_path_is_one_line_naming_it(tmp_path, value, expected):
    values = {"missing": str(tmp_path / "nope"), "tmp": str(tmp_path)}
    with pytest.raises(ConfigError, match=None) as raised:
        study_target(value.format(**values))
    assert expected.format(**values) in str(raised.value) and "\n" not in str(raised.value)


def test_a_file_that_is_not_a_study_is_one_line(tmp_path):
    (tmp_path / "result.json").write_text('{"a": [1, 2')
    (tmp_path / "x.db").write_text("not sqlite")
    for name in ("result.json", "x.db"):
        with pytest.raises(ConfigError) as raised:
            study_target(str(tmp_path / name))  # before anything connects
        assert str(tmp_path / name) in str(raised.value) and "name a new file" in str(raised.value)
    assert study_target(f"sqlite:///{tmp_path}/a.db").sqlite and not study_target(str(Path(tmp_path) / "a.log")).sqlite
