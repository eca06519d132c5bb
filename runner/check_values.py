"""Value checks that run at resolve time, beside `runner.resolve.validate_specs`: every number finite,
counts and ports in range, the precision one Lightning accepts, max_length within the model's position
embeddings, run_root a writable folder, a GPU present when the trainer asks for one, and each search-space
value checked by the same rules as a single run's config. Each error is one line naming the key, the value
and what would be valid."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterator
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from runner.config_schema import ModelConfig, OptimConfig, TrainerConfig
from workflows.conditional_space import MODEL_KEY, context, is_conditional
from workflows.payloads.errors import ConfigError
from workflows.payloads.specs import TASK_METRICS, VALIDATION_METRICS, DatasetSpec, ModelSpec, ParamSpec, TrainerSpec
from workflows.search_params import apply_params

PRECISIONS = ("transformer-engine", "transformer-engine-float16", "16-true", "16-mixed", "bf16-true", "bf16-mixed",
              "32-true", "64-true", "64", "32", "16", "bf16")
"""What Lightning 2.x's Trainer accepts as `precision` (lightning.fabric.connector's _PRECISION_INPUT)."""

GPU_ACCELERATORS = ("gpu", "cuda")
QMC_SEEDS = 2**32
"""scipy's Sobol sampler seeds numpy, which takes 0 <= seed < 2**32."""


def numbers(prefix: str, value: Any) -> Iterator[tuple[str, float]]:
    """(dotted key, value) of every float inside `value` (dataclasses, dicts, lists), depth first."""
    if is_dataclass(value) and not isinstance(value, type):
        value = asdict(value)
    if isinstance(value, dict):
        for key, item in value.items():
            yield from numbers(f"{prefix}.{key}" if prefix else str(key), item)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from numbers(f"{prefix}[{index}]", item)
    elif isinstance(value, float):
        yield prefix, value


def check_finite(prefix: str, value: Any) -> None:
    """Refuse NaN and inf anywhere in `value`: comparisons with NaN are all false, so it would pass every
    range check and fail at run time, on every retry."""
    for key, number in numbers(prefix, value):
        if not math.isfinite(number):
            raise ConfigError(f"{key} is {number}, but must be a finite number")


def check_run_values(model: ModelSpec, dataset: DatasetSpec, trainer: TrainerSpec) -> None:
    """Counts, precision and max_length of one run's specs (the finite check comes first, in
    `validate_specs`)."""
    if dataset.max_samples < 0:
        raise ConfigError(f"dataset.max_samples is {dataset.max_samples}, but must be >= 0 (0 keeps every row)")
    if dataset.max_length < 1:
        raise ConfigError(f"dataset.max_length is {dataset.max_length}, but must be >= 1")
    positions = position_embeddings(model)
    if positions is not None and dataset.max_length > positions:
        raise ConfigError(f"dataset.max_length is {dataset.max_length}, but model '{model.name}' has "
                          f"{positions} position embeddings (max_position_embeddings): use at most {positions}")
    if str(trainer.precision) not in PRECISIONS:
        raise ConfigError(f"trainer.precision is '{trainer.precision}', but must be one of: {', '.join(PRECISIONS)}")


def check_monitor(monitor: str, mode: str, direction: str = "", task: str = "sequence_classification") -> None:
    """`trainer.monitor` is a metric validation logs for the task, and `trainer.monitor_mode` (and a sweep's
    `direction`) point the way that metric gets better: a mismatch would keep the worst checkpoint or pick
    the worst trial."""
    logged = TASK_METRICS.get(task, VALIDATION_METRICS)
    if monitor not in logged:
        raise ConfigError(f"trainer.monitor is '{monitor}', but task {task} logs: {', '.join(logged)}")
    better = logged[monitor]
    if mode != better:
        raise ConfigError(f"trainer.monitor_mode is '{mode}' with trainer.monitor '{monitor}', but "
                          f"{monitor} is better when {'lower' if better == 'min' else 'higher'}: "
                          f"use trainer.monitor_mode={better}")
    wanted = "minimize" if better == "min" else "maximize"
    if direction and direction != wanted:
        raise ConfigError(f"direction is '{direction}' with trainer.monitor '{monitor}', but {monitor} is better "
                          f"when {'lower' if better == 'min' else 'higher'}: use direction={wanted}")


def position_embeddings(model: ModelSpec) -> int | None:
    """The model's max_position_embeddings: from `architecture` (init 'config') or the config.json of a
    local model folder; None when unknown (a hub name, which is not looked up here)."""
    if model.init == "config":
        value = model.architecture.get("max_position_embeddings")
    else:
        config = Path(model.name_or_path).expanduser() / "config.json"
        try:
            value = json.loads(config.read_text()).get("max_position_embeddings") if config.is_file() else None
        except (OSError, ValueError, AttributeError):
            value = None
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0 else None


def check_accelerator(trainer: TrainerSpec, temporal: dict[str, Any]) -> None:
    """`trainer=gpu` needs a GPU where the training runs: here, when the embedded server's workers train
    (with `temporal.address` set the workers are elsewhere). torch is imported only to answer this."""
    if str(trainer.accelerator) not in GPU_ACCELERATORS or temporal.get("address"):
        return
    import torch  # only for trainer=gpu: the CLI need not load torch to check other configs

    if not torch.cuda.is_available():
        raise ConfigError(f"trainer.accelerator is '{trainer.accelerator}', but this machine has no GPU torch can "
                          f"use (torch.cuda.is_available() is false): use trainer=cpu, or train on a cluster "
                          f"with GPU workers (temporal=remote)")


def check_plain(plain: dict[str, Any]) -> None:
    """Checks of the resolved config outside the run specs: every float finite, ports, queue names,
    parallelism and run_root."""
    # variants are checked as the runs they compose; search_space.params by check_param_numbers, by key
    check_finite("", {key: value for key, value in plain.items() if key not in ("variants", "search_space")})
    temporal = plain["temporal"]
    for key in ("port", "ui_port"):
        if not 1 <= int(temporal[key]) <= 65535:
            raise ConfigError(f"temporal.{key} is {temporal[key]}, but must be a TCP port in 1..65535")
    for key in ("training_queue", "orchestration_queue", "namespace"):
        if not str(temporal[key]).strip():
            raise ConfigError(f"temporal.{key} is '{temporal[key]}', but must be a non-empty name")
    if int(plain["parallelism"]) < 1:
        raise ConfigError(f"parallelism is {plain['parallelism']}, but must be >= 1 (runs in flight at once)")
    check_run_root(str(plain["run_root"]))


def check_run_root(run_root: str) -> None:
    """run_root is a folder this process can write, or can be created as one."""
    path = Path(run_root).expanduser().resolve()
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        what = "it" if existing == path else f"its parent '{existing}'"
        raise ConfigError(f"run_root is '{run_root}', but {what} is a file, not a folder: choose a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        where = "" if existing == path else f" (nor its parent '{existing}', where it would be created)"
        raise ConfigError(f"run_root is '{run_root}', but it is not writable by this user{where}: choose a folder "
                          f"you can write")


def check_sampler(sampler: dict[str, Any], space: list[ParamSpec]) -> None:
    """Seeds and samplers that only fail once a trial asks for parameters."""
    if int(sampler.get("lag", 0)) < 0:
        raise ConfigError(f"sampler.lag is {sampler['lag']}, but must be >= 0 (trial n learns from trials below n - lag)")
    if sampler["name"] == "nsga2" and int(sampler.get("population_size", 50)) < 2:
        raise ConfigError(f"sampler.population_size is {sampler['population_size']}, but sampler 'nsga2' needs "
                          f">= 2 (each child has two parents)")
    if sampler["name"] == "qmc" and not 0 <= int(sampler["seed"]) < QMC_SEEDS:
        raise ConfigError(f"sampler.seed is {sampler['seed']}, but sampler 'qmc' needs 0 <= seed < 2**32")
    if sampler["name"] in ("grid", "qmc") and is_conditional(space):
        raise ConfigError(f"sampler.name is '{sampler['name']}', but search_space.params has `when` (a conditional "
                          f"space), which only sampler tpe or random can propose; use sampler=tpe")
    if sampler["name"] == "grid":
        for p in space:
            if p.type == "float" and p.step is None:
                raise ConfigError(f"search_space.params.{p.key} is a continuous float (step unset), but sampler "
                                  f"'grid' needs a step for every float; set its step or use another sampler")


def extremes(p: ParamSpec) -> list[tuple[str, Any]]:
    """(what, value) of the values a parameter can take at its edges: low and high, or each choice."""
    if p.type == "categorical":
        return [(f"choices[{i}]", choice) for i, choice in enumerate(p.choices)]
    cast: Callable[[float], Any] = int if p.type == "int" else float
    assert p.low is not None and p.high is not None, p.key  # validate_space checked both are set
    return [("low", cast(p.low)), ("high", cast(p.high))]


def check_param_numbers(p: ParamSpec) -> None:
    """Bounds and step of a numeric parameter: finite, a step > 0 (whole for int)."""
    where = f"search_space.params.{p.key}"
    check_finite(where, {"low": p.low, "high": p.high, "step": p.step, "choices": list(p.choices)})
    if p.step is not None and (p.step <= 0 or (p.type == "int" and p.step != int(p.step))):
        raise ConfigError(f"{where}.step is {p.step}, but must be > 0{' and whole' if p.type == 'int' else ''}")
    if p.type == "int" and p.low is not None and p.high is not None and (p.low != int(p.low) or p.high != int(p.high)):
        raise ConfigError(f"{where} has low={p.low}, high={p.high}, but an int parameter needs whole bounds")


def schema_value(schema_section: Any, key: str, value: Any) -> Any:
    """Set `value` on a copy of the key's typed schema node: a wrong type or an enum value the schema does
    not know fails as it would in the YAML (e.g. an unknown optim.scheduler). Returns the value as the
    schema holds it (an int for a float key as a float, an enum by name), or `value` for a key it lacks."""
    section, _, name = key.partition(".")
    node = OmegaConf.structured(schema_section)
    if name not in node:
        return value  # apply_params names the key that is not searchable
    try:
        node[name] = value
    except OmegaConfBaseException as error:
        raise ConfigError(f"{key} is {value!r}, but its schema refuses it ({str(error).splitlines()[0]})") from error
    typed = OmegaConf.to_container(node, enum_to_str=True)
    assert isinstance(typed, dict)  # a dataclass node
    return typed[name]


SCHEMAS = {"model": ModelConfig, "optim": OptimConfig, "trainer": TrainerConfig}
"""The typed schema of each section a search parameter (or a schedule entry) may set."""


def check_search_values(base: Any, space: list[ParamSpec], validate: Callable[[Any], None],
                        models: dict[str, Any] | None = None) -> None:
    """Each parameter's edge values, one at a time, applied to the resolved run and checked by the
    schema of the key they target and by `validate` (the rules of a single run), so a trial can never
    get a value the same config on the command line would refuse. A conditional parameter's values are
    applied with the values its `when` needs (its model's, for a per-model range); with `model` searched
    (`models`: its resolved choices) an unconditional parameter's values are checked with every model."""
    for p in space:
        check_param_numbers(p)
        needs = context(p, space)
        choices: list[Any] = [None] if MODEL_KEY in needs or p.key == MODEL_KEY or not models else list(models)
        for what, value in extremes(p):
            for choice in choices:
                params = {**needs, p.key: value, **({MODEL_KEY: choice} if choice is not None else {})}
                where = f"search_space.params.{p.key}" + (f" (when {p.when})" if p.when else "")
                with_model = f" with model={choice}" if choice is not None else ""
                try:
                    section = p.key.partition(".")[0]
                    if section in SCHEMAS:
                        schema_value(SCHEMAS[section], p.key, value)
                    validate(apply_params(base, params, models))
                except ConfigError as error:
                    raise ConfigError(f"{where} {what}={value!r}{with_model}: {error}") from error
                except ValueError as error:
                    raise ConfigError(f"search_space.params: {error}") from error
