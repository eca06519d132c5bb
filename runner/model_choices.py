"""A sweep that searches `model`: each choice (a `model` config-group option) composed by Hydra as the command
line with `model=<choice>` and resolved like a single run (its folders, its tokenizer, dataset.max_length
against its positions), before anything starts. The sweep carries the ModelSpecs (`LadderSweepInput.models`;
`workflows.search_params.apply_params` swaps them in per trial) and its plain config their plain model
sections (`SEARCHED_MODELS` under `search_space`), which best_config.yaml takes for a trial's model.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from omegaconf import DictConfig

from runner.resolve import resolve_run
from workflows.payloads.errors import ConfigError
from workflows.payloads.specs import ModelSpec
from workflows.search_params import MODEL_KEY, SEARCHED_MODELS


def model_choices(plain: dict[str, Any]) -> list[str]:
    """The options a config's `model` search parameter chooses among (none when it searches no model)."""
    params = (plain.get("search_space") or {}).get("params") or []
    return [c for p in params if p.get("key") == MODEL_KEY for c in p.get("choices") or []]


def resolve_model_choices(plain: dict[str, Any], compose: Callable[[list[str]], DictConfig]) -> dict[str, ModelSpec]:
    """Each model choice's ModelSpec, resolved from `compose([f"model={choice}"])` (the config as given, with
    that model); records their plain model configs in `plain["search_space"]["models"]`. ConfigError (one
    line, naming the choice) for an option that does not exist or does not run."""
    models: dict[str, ModelSpec] = {}
    sections: dict[str, Any] = {}
    for index, choice in enumerate(dict.fromkeys(model_choices(plain))):
        where = f"search_space.params.model choices[{index}]={choice!r}"
        if not isinstance(choice, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", choice):
            raise ConfigError(f"{where}, but a model choice must be the name of a `model` option (e.g. bert_tiny)")
        try:
            composed = compose([f"{MODEL_KEY}={choice}"])
        except ConfigError as error:
            raise ConfigError(f"{where}: {error}") from error
        except Exception as error:  # Hydra's compose errors: an unknown option lists the available ones
            raise ConfigError(f"{where}, but {_compose_error(str(error))}") from error
        try:
            run, choice_plain = resolve_run(composed)
        except ConfigError as error:
            raise ConfigError(f"{where}: {error}") from error
        models[choice] = run.model
        sections[choice] = choice_plain[MODEL_KEY]
    if models:
        plain["search_space"][SEARCHED_MODELS] = sections
    return models


def _compose_error(message: str) -> str:
    """Hydra's message in one line: `Could not find 'model/x'` with the available options after it."""
    first = message.strip().splitlines()[0].removeprefix("In 'config': ")
    options = re.search(r"Available options in '\w+':\n((?:\t.*\n?)+)", message)
    if options:
        names = [line.strip() for line in options.group(1).splitlines() if line.strip() != "base_model"]
        return f"{first}; valid: {', '.join(names)}"
    return first
