"""The bad-input matrix: each case fails at resolve time, in this process, before any server or workflow
starts, with a message that names the key (or file) and the value and says what would be valid."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from runner.compose_errors import compose_error_line
from runner.resolve import resolve_run
from runner.sweep_config import is_sweep, refuse_sweep_keys, resolve_sweep
from tests.conftest import compose_config

SWEEP = ("experiment=bert_sweep",)
PBT = ("experiment=bert_sweep", "ladder=pbt", "trainer.max_steps=180", "ladder.perturbation_interval=60")


def files(tmp_path: Path) -> dict[str, str]:
    """Small files the cases point at."""
    made = {
        "empty.csv": "text,label\n",
        "one_class.csv": "text,label\n" + "".join(f"news item {i},sport\n" for i in range(20)),
        "numbers.csv": "text,label\n" + "".join(f"{i},{'ab'[i % 2]}\n" for i in range(20)),
        "good.csv": "text,label\n" + "".join(f"story {i},{'ab'[i % 2]}\n" for i in range(20)),
        "not_pem.crt": "hello\n",
        "empty_key.txt": "",
    }
    for name, text in made.items():
        (tmp_path / name).write_text(text)
    bad_repo = tmp_path / "repo"
    bad_repo.mkdir()
    (bad_repo / "mine.yaml").write_text("defaults:\n  - base_config\n  - _self_\nexperiment_name: [unclosed\n")
    return {name: str(tmp_path / name) for name in made} | {"repo": str(bad_repo)}


CASES = [
    # (id, overrides (with {file} placeholders), expected fragments)
    ("unknown group option", ["model=gpt9"], ["model", "gpt9"]),
    ("unknown dataset option", ["dataset=imagenet"], ["imagenet"]),
    ("unknown key", ["trainer.max_stepz=5"], ["max_stepz"]),
    ("wrong type int", ["trainer.max_steps=many"], ["trainer.max_steps", "many"]),
    ("wrong type float", ["optim.lr=fast"], ["optim.lr", "fast"]),
    ("wrong enum", ["trainer.accelerator=tpu"], ["trainer.accelerator", "tpu"]),
    ("negative lr", ["optim.lr=-0.001"], ["optim.lr is -0.001", "> 0"]),
    ("zero steps", ["trainer.max_steps=0"], ["trainer.max_steps is 0", "> 0"]),
    ("warmup out of range", ["optim.warmup_ratio=1.5"], ["optim.warmup_ratio is 1.5", "[0, 1)"]),
    ("unknown monitor", ["trainer.monitor=val_f2"], ["trainer.monitor is 'val_f2'", "val_loss"]),
    ("monitor mode the wrong way", ["trainer.monitor=val_macro_f1"],
     ["trainer.monitor_mode is 'min' with trainer.monitor 'val_macro_f1'", "trainer.monitor_mode=max"]),
    ("sweep direction the wrong way", [*SWEEP, "trainer.monitor=val_accuracy", "trainer.monitor_mode=max"],
     ["direction is 'minimize' with trainer.monitor 'val_accuracy'", "direction=maximize"]),
    ("dropout out of range", ["model.dropout=1.5"], ["model.dropout is 1.5"]),
    ("unknown logger", ["logger=comet"], ["logger", "comet"]),
    ("unknown wandb mode", ["logger=wandb", "logger.mode=foo"], ["logger.mode", "foo", "offline"]),
    ("wandb folder outside the run root", ["logger=wandb", "logger.save_dir=/etc/wb"],
     ["logger.save_dir '/etc/wb' escapes", "inside the run root"]),
    ("logger folder outside the run root", ["logger=tensorboard", "logger.save_dir=/etc/tb"],
     ["logger.save_dir '/etc/tb' escapes", "inside the run root"]),
    ("mlflow file store", ["logger=mlflow", "logger.tracking_uri=file:///tmp/mlruns"],
     ["logger.tracking_uri is 'file:///tmp/mlruns'", "http(s)://", "sqlite:///"]),
    ("unknown attention kernel", ["model.attn_implementation=flash3"], ["model.attn_implementation is 'flash3'", "sdpa"]),
    ("fused optimiser with fp16 clipping", ["optim.fused=true", "trainer.precision=16-mixed"],
     ["optim.fused is true", "bf16-mixed"]),
    ("bad experiment name", ["experiment_name=../../etc"], ["experiment_name is '../../etc'", "letters"]),
    ("empty search space", [*SWEEP, "search_space.params=[]"], ["search_space.params is empty"]),
    ("low >= high", [*SWEEP, "search_space.params=[{key: optim.lr, low: 0.01, high: 0.001}]"],
     ["optim.lr", "low"]),
    ("log with low <= 0", [*SWEEP, "search_space.params=[{key: optim.lr, low: 0, high: 0.01, log: true}]"],
     ["optim.lr", "log"]),
    ("search key not searchable", [*SWEEP, "search_space.params=[{key: dataset.max_length, low: 8, high: 64}]"],
     ["dataset.max_length"]),
    ("eta < 2", [*SWEEP, "ladder.eta=1"], ["ladder.eta is 1", ">= 2"]),
    ("rungs not increasing", [*SWEEP, "ladder.rungs=[60,20,180]"], ["ladder.rungs is [60, 20, 180]", "increasing"]),
    ("top rung beyond trainer", [*SWEEP, "ladder.rungs=[30,90,360]"],
     ["ladder top rung is 360 steps", "trainer.max_steps is 270"]),
    ("fraction above 1", [*SWEEP, "ladder.unit=fraction", "ladder.rungs=[0.5,2]"], ["fraction", "<= 1"]),
    ("epochs without a max", [*SWEEP, "ladder.unit=epochs", "ladder.rungs=[]", "ladder.max_budget=0"],
     ["ladder.max_budget is 0", "epochs"]),
    ("unknown unit", [*SWEEP, "ladder.unit=hours"], ["ladder.unit", "hours"]),
    ("no trials", [*SWEEP, "n_trials=0"], ["n_trials is 0", ">= 1"]),
    ("pbt population of one", [*PBT, "ladder.population=1"], ["ladder.population is 1", ">= 2"]),
    ("pbt quantile above a half", [*PBT, "ladder.quantile=0.7"], ["ladder.quantile is 0.7", "(0, 0.5]"]),
    ("pbt resample probability", [*PBT, "ladder.resample_probability=1.5"],
     ["ladder.resample_probability is 1.5", "[0, 1]"]),
    ("pbt zero factor", [*PBT, "ladder.perturbation_factors=[0.8,0]"], ["ladder.perturbation_factors is [0.8, 0.0]", "> 0"]),
    ("pbt interval past the budget", [*PBT, "ladder.perturbation_interval=180"],
     ["ladder.perturbation_interval is 180", "trainer.max_steps (180)"]),
    ("pbt in epochs", [*PBT, "ladder.unit=epochs"], ["ladder.unit is 'epochs'", "steps"]),
    ("pbt boundaries past the state", [*PBT, "trainer.max_steps=200000", "ladder.perturbation_interval=10"],
     ["ladder.population is 4 with 20000 boundaries", "at most 6", "boundaries for this population"]),
    ("more trials than the state holds", [*SWEEP, "n_trials=100000"], ["n_trials is 100000", "at most", "bytes per trial"]),
    ("archive batch too small", [*SWEEP, "ladder.archive_batch=0"], ["ladder.archive_batch is 0", "between 10 and 1000"]),
    ("rung probe of two trials", [*SWEEP, "ladder.probe_trials=2"], ["ladder.probe_trials is 2", ">= 3"]),
    ("rung probe as large as the sweep", [*SWEEP, "ladder.probe_trials=9"],
     ["ladder.probe_trials is 9", "below n_trials (9)"]),
    ("rung probe agreement past 1", [*SWEEP, "ladder.probe_trials=4", "ladder.probe_agreement=1.5"],
     ["ladder.probe_agreement is 1.5", "[-1, 1]"]),
    ("rung probe without a ladder", [*SWEEP, "ladder=none", "ladder.probe_trials=4"],
     ["ladder.probe_trials is 4", "a none ladder has no rungs"]),
    ("rung probe over one rung", [*SWEEP, "ladder.rungs=[270]", "ladder.probe_trials=4"],
     ["ladder.probe_trials is 4", "one rung (270 steps)"]),
    ("rung probe in a single run", ["ladder.probe_trials=4"], ["ladder.probe_trials is 4", "not for a single run"]),
    ("bad direction", [*SWEEP, "direction=up"], ["direction is 'up'", "minimize"]),
    ("unknown sampler", [*SWEEP, "sampler=annealing"], ["annealing"]),
    ("sampler window too small", [*SWEEP, "sampler.max_history=20"], ["sampler.max_history is 20", ">= 100"]),
    ("negative sampler lag", [*SWEEP, "sampler.lag=-1"], ["sampler.lag is -1", ">= 0"]),
    ("missing dataset file", ["dataset=csv", "dataset.data_files.train=/no/such/train.csv"],
     ["dataset.data_files.train is '/no/such/train.csv'"]),
    ("empty dataset", ["dataset=csv", "dataset.data_files.train={empty.csv}"], ["{empty.csv}", "no rows"]),
    ("label with one class", ["dataset=csv", "dataset.data_files.train={one_class.csv}"],
     ["dataset.label_column", "one class"]),
    ("label column missing", ["dataset=csv", "dataset.data_files.train={good.csv}", "dataset.label_column=topic"],
     ["dataset.label_column is 'topic'", "text, label"]),
    ("text column not text", ["dataset=csv", "dataset.data_files.train={numbers.csv}"],
     ["dataset.text_column is 'text'", "not text"]),
    ("model path missing", ["model=minilm_l6", "model.name_or_path=/no/such/model"],
     ["model.name_or_path is '/no/such/model'"]),
    ("dataset folder missing", ["dataset.path=/no/such/folder"], ["dataset.path is '/no/such/folder'"]),
    ("tls file missing", ["temporal=remote", "temporal.address=127.0.0.1:1", "temporal.tls_ca_file=/no/ca.pem"],
     ["temporal.tls_ca_file is '/no/ca.pem'", "cannot be read"]),
    ("tls file not PEM", ["temporal=remote", "temporal.address=127.0.0.1:1", "temporal.tls_cert_file={not_pem.crt}",
                          "temporal.tls_key_file={not_pem.crt}"], ["temporal.tls_cert_file", "not a PEM file"]),
    ("cert without key", ["temporal=remote", "temporal.address=127.0.0.1:1", "temporal.tls_cert_file=/x.pem"],
     ["temporal.tls_cert_file is '/x.pem'"]),
    ("api key variable unset", ["temporal=remote", "temporal.address=127.0.0.1:1",
                                "temporal.api_key_env=TT_NO_SUCH_VARIABLE"],
     ["temporal.api_key_env is 'TT_NO_SUCH_VARIABLE'", "not set"]),
    ("api key file empty", ["temporal=remote", "temporal.address=127.0.0.1:1", "temporal.api_key_file={empty_key.txt}"],
     ["temporal.api_key_file", "empty"]),
    ("api key with tls off", ["temporal=remote", "temporal.address=127.0.0.1:1", "temporal.tls=false",
                              "temporal.api_key_file={empty_key.txt}"], ["temporal.tls is false", "never sent without TLS"]),
    # every number is validated (issue 17): NaN and inf anywhere, counts, ports, names, folders, hardware
    ("heartbeat timeout nan", ["trainer.heartbeat_timeout_s=nan"], ["trainer.heartbeat_timeout_s is nan", "finite"]),
    ("retry interval nan", ["trainer.retry_max_interval_s=nan"], ["trainer.retry_max_interval_s is nan", "finite"]),
    ("lr nan", ["optim.lr=nan"], ["optim.lr is nan", "finite"]),
    ("clip value inf", ["trainer.gradient_clip_val=inf"], ["trainer.gradient_clip_val is inf", "finite"]),
    ("beta nan", ["optim.betas=[0.9,nan]"], ["optim.betas[1] is nan", "finite"]),
    ("ladder budget inf", [*SWEEP, "ladder.rungs=[]", "ladder.min_budget=20", "ladder.max_budget=inf"],
     ["ladder.max_budget is inf", "finite"]),
    ("port out of range", ["temporal.port=70000"], ["temporal.port is 70000", "1..65535"]),
    ("ui port zero", ["temporal.ui_port=0"], ["temporal.ui_port is 0", "1..65535"]),
    ("empty queue name", ["temporal.training_queue=''"], ["temporal.training_queue is ''", "non-empty"]),
    ("negative max_samples", ["dataset.max_samples=-5"], ["dataset.max_samples is -5", ">= 0"]),
    ("parallelism zero", ["parallelism=0"], ["parallelism is 0", ">= 1"]),
    ("max_length above the architecture's positions", ["dataset.max_length=1024"],
     ["dataset.max_length is 1024", "512 position embeddings"]),
    ("max_length above a model folder's positions", ["model=minilm_l6", "dataset.max_length=600"],
     ["dataset.max_length is 600", "512 position embeddings"]),
    ("run_root is a file", ["run_root={good.csv}"], ["run_root is '{good.csv}'", "a file, not a folder"]),
    ("run_root under a file", ["run_root={good.csv}/runs"], ["run_root is '{good.csv}/runs'", "is a file"]),
    pytest.param("gpu trainer without a GPU", ["trainer=gpu"], ["trainer.accelerator is 'gpu'", "no GPU"],
                 marks=pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU"),
                 id="gpu trainer without a GPU"),
    ("unknown precision", ["trainer.precision=42-true"], ["trainer.precision is '42-true'", "bf16-mixed"]),
    # search-space values follow the rules of the key they target
    ("batch size choice 0", [*SWEEP, "search_space.params=[{key: trainer.batch_size, type: categorical, choices: [16, 0]}]"],
     ["search_space.params.trainer.batch_size choices[1]=0", "trainer.batch_size is 0", "> 0"]),
    ("negative lr choice", [*SWEEP, "search_space.params=[{key: optim.lr, type: categorical, choices: [0.001, -0.001]}]"],
     ["search_space.params.optim.lr choices[1]=-0.001", "optim.lr is -0.001"]),
    ("negative lr bound", [*SWEEP, "search_space.params=[{key: optim.lr, low: -0.01, high: 0.01}]"],
     ["search_space.params.optim.lr low=-0.01", "optim.lr is -0.01"]),
    ("search bound inf", [*SWEEP, "search_space.params=[{key: optim.lr, low: 0.001, high: inf}]"],
     ["search_space.params.optim.lr.high is inf", "finite"]),
    ("search step 0", [*SWEEP, "search_space.params=[{key: optim.warmup_ratio, low: 0, high: 0.2, step: 0}]"],
     ["search_space.params.optim.warmup_ratio.step is 0", "> 0"]),
    ("float value for an int key", [*SWEEP, "search_space.params=[{key: trainer.batch_size, low: 8, high: 32}]"],
     ["trainer.batch_size", "8.0"]),
    ("grid over a float without a step", [*SWEEP, "sampler=grid"],
     ["search_space.params.optim.lr is a continuous float", "sampler 'grid'"]),
    ("qmc seed -1", [*SWEEP, "sampler=qmc", "sampler.seed=-1"], ["sampler.seed is -1", "qmc"]),
    ("categorical value the schema does not allow",
     [*SWEEP, "search_space.params=[{key: optim.scheduler, type: categorical, choices: [linear, warmup_cosine]}]"],
     ["search_space.params.optim.scheduler choices[1]='warmup_cosine'", "optim.scheduler", "cosine"]),
    ("objective metric unknown", [*SWEEP, "objectives=[{metric: val_accuracy, direction: maximize}, {metric: flops}]"],
     ["objectives[1].metric is 'flops'", "latency_ms"]),
    ("objective the task does not log", [*SWEEP, "dataset=vader_tweets",
                                         "objectives=[{metric: val_accuracy, direction: maximize}, {metric: latency_ms}]"],
     ["objectives[0].metric is 'val_accuracy', but task regression reports: val_loss, val_mse"]),
    ("class weights for a regression", ["dataset=vader_tweets", "trainer.class_weights=auto"],
     ["trainer.class_weights is 'auto', but task regression has no classes to weigh"]),
    ("class weights for multi-label", ["dataset=goemotions_ekman", "trainer.class_weights=auto"],
     ["trainer.class_weights is 'auto', but task multi_label trains one sigmoid per label"]),
    ("one objective only", [*SWEEP, "objectives=[{metric: val_accuracy, direction: maximize}]"],
     ["objectives has one entry (val_accuracy)", "trainer.monitor and direction"]),
    ("objective direction", [*SWEEP, "objectives=[{metric: val_accuracy, direction: up}, {metric: latency_ms}]"],
     ["objectives[0].direction is 'up'", "maximize"]),
    ("objective named twice", [*SWEEP, "objectives=[{metric: latency_ms}, {metric: latency_ms}]"],
     ["objectives[1].metric is 'latency_ms', which an earlier objective names already"]),
    ("negative objective weight", [*SWEEP, "objectives=[{metric: val_loss, weight: -1}, {metric: latency_ms}]"],
     ["objectives[0].weight is -1.0", ">= 0"]),
    ("constraint without a bound", [*SWEEP, "constraints=[{metric: latency_ms}]"],
     ["constraints[0] (latency_ms) has neither max nor min"]),
    ("constraint that nothing meets", [*SWEEP, "constraints=[{metric: val_accuracy, min: 0.9, max: 0.5}]"],
     ["constraints[0] (val_accuracy) has min=0.9 > max=0.5"]),
    ("objectives with pbt", [*PBT, "objectives=[{metric: val_loss}, {metric: latency_ms}]"],
     ["ladder=pbt exploits by one metric"]),
    ("constraints with pbt", [*PBT, "constraints=[{metric: latency_ms, max: 5}]"],
     ["constraints is set (latency_ms)", "ladder=pbt exploits by one metric"]),
    ("multi-objective sweep larger than its state holds", [*SWEEP, "n_trials=5000",
                                                           "objectives=[{metric: val_loss}, {metric: latency_ms}]"],
     ["n_trials is 5000, but this sweep can hold at most", "keeps every trial's record"]),
    ("nsga2 population of one", [*SWEEP, "sampler=nsga2", "sampler.population_size=1"],
     ["sampler.population_size is 1", "'nsga2' needs >= 2"]),
    # Hydra's own override forms: a key added with `+` the schema does not know, a required one removed with `~`
    ("+ adds an unknown trainer key", ["+trainer.foo=1"], ["trainer.foo is not a train-tune key", "max_steps"]),
    ("+ adds a misspelt key", ["+trainer.max_step=3"], ["did you mean trainer.max_steps?"]),
    ("+ adds a model key transformers reads elsewhere", ["+model.num_labels=3"],
     ["model.num_labels is not a train-tune key", "model takes: architecture"]),
    ("+ adds a new top-level key", ["+new_key=1"], ["new_key is not a train-tune key", "the top level takes"]),
    ("~ removes a key every run needs", ["~predict_texts"],
     ["predict_texts was removed (`~predict_texts`)", "`predict_texts=[]`"]),
]


def resolve(overrides: list[str], config_dir: str | None = None, config_name: str = "config") -> None:
    cfg = compose_config(*overrides, config_name=config_name, config_dir=config_dir)
    run, plain = resolve_run(cfg)
    if is_sweep(plain):
        resolve_sweep(run, plain)
    else:  # as `train-tune` does for a single run (runner/launch.py)
        refuse_sweep_keys(plain, "a single run")


@pytest.mark.parametrize("case, overrides, expected", CASES, ids=[getattr(c, "id", None) or c[0] for c in CASES])
def test_bad_input_fails_fast_naming_key_and_value(case, overrides, expected, tmp_path, monkeypatch):
    paths = files(tmp_path)

    def fill(text: str) -> str:
        for name, path in paths.items():
            text = text.replace("{" + name + "}", path)
        return text

    overrides, expected = [fill(o) for o in overrides], [fill(e) for e in expected]
    monkeypatch.chdir(tmp_path)
    with pytest.raises(Exception) as info:  # Hydra's own errors or ours
        resolve(overrides)
    text = f"{info.value} {info.value.__cause__ or ''}"
    for fragment in expected:
        assert fragment in text, (case, text)
    assert not list(tmp_path.rglob("*.sqlite")), "nothing may start"


def test_yaml_syntax_error_in_a_user_config_repo_names_the_file(tmp_path):
    paths = files(tmp_path)
    with pytest.raises(Exception) as info:
        resolve([], config_dir=paths["repo"], config_name="mine")
    text = f"{info.value} {info.value.__cause__ or ''}"
    assert "mine" in text and ("unclosed" in text or "while parsing" in text or "expected" in text), text
    line = compose_error_line(info.value)  # what the CLI prints: one line, the file, line and column first
    assert "\n" not in line and re.match(r".*mine\.yaml:\d+:\d+: ", line), line


def test_an_unknown_group_option_is_one_line_with_the_options_there_are():
    with pytest.raises(Exception) as info:
        compose_config("model=gpt7")
    line = compose_error_line(info.value)
    assert "\n" not in line and "model/gpt7" in line and "bert_tiny" in line and "base_model" not in line, line


def test_a_bad_wandb_mode_is_one_line_naming_the_modes(tmp_path):
    from activities.trackers import check_logger_spec
    from workflows.payloads.errors import ConfigError
    from workflows.payloads.specs import LoggerSpec

    with pytest.raises(Exception) as info:
        compose_config("logger=wandb", "logger.mode=foo")
    line = compose_error_line(info.value)
    assert "\n" not in line and "logger.mode" in line and "foo" in line and "offline" in line, line
    with pytest.raises(ConfigError, match="logger.mode is 'foo', but must be one of offline, online, disabled"):
        check_logger_spec(LoggerSpec(name="wandb", mode="foo"), str(tmp_path))  # a hand-made workflow input


def test_the_matrix_has_at_least_thirty_cases():
    assert len(CASES) + 1 >= 30
