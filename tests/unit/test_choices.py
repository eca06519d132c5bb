"""The values a config key may take have one owner, `workflows.payloads.choices`: the schema types its keys
with those enums, the activities and the ladder check against the same values, and nothing else in the
project spells a list of them again."""

from __future__ import annotations

import ast
from enum import Enum
from pathlib import Path

import pytest
from hydra.errors import ConfigCompositionException

from workflows.payloads import choices
from workflows.schedulers import SCHEDULERS

ROOT = Path(__file__).resolve().parents[2]
TUPLES = {name: value for name, value in vars(choices).items() if name.isupper() and isinstance(value, tuple)}


def test_every_schema_enum_is_the_one_in_the_payload_home():
    from runner import config_schema

    schema_enums = {name for name, value in vars(config_schema).items()
                    if isinstance(value, type) and issubclass(value, Enum) and value is not Enum}
    assert schema_enums and all(getattr(config_schema, n) is getattr(choices, n) for n in schema_enums)


def test_a_value_outside_the_choices_fails_at_compose_time_with_its_path():
    from tests.conftest import compose_config

    with pytest.raises(ConfigCompositionException, match="ladder.kind=shaa") as refused:
        compose_config("experiment=bert_sweep", "ladder.kind=shaa")
    assert all(kind in str(refused.value.__cause__) for kind in choices.LADDER_KINDS)


def test_each_ladder_kind_has_its_scheduler():
    assert set(SCHEDULERS) == set(choices.LADDER_KINDS)


def test_each_lr_schedule_shapes_the_rate_its_own_way():
    from activities.engine.schedule import warmup_decay

    at_three_quarters = {kind: warmup_decay(75, 0, 100, kind) for kind in choices.LR_SCHEDULES}
    assert len(set(at_three_quarters.values())) == len(choices.LR_SCHEDULES), at_three_quarters


def test_activities_refuse_a_value_outside_the_choices_naming_them():
    from activities.models import check_model_spec
    from activities.suggest import make_sampler
    from workflows.payloads.errors import ConfigError
    from workflows.payloads.specs import ModelSpec, SamplerSpec

    with pytest.raises(ConfigError) as model:
        check_model_spec(ModelSpec(name="m", name_or_path="m", init="nonsense"))
    with pytest.raises(ConfigError) as sampler:
        make_sampler(SamplerSpec(name="nonsense"), [], 0)
    assert all(value in str(model.value) for value in choices.MODEL_INITS)
    assert all(value in str(sampler.value) for value in choices.SAMPLERS)


def _string_tuples(path: Path) -> list[tuple[int, frozenset[str]]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Tuple) and len(node.elts) >= 2 and all(
                isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts):
            found.append((node.lineno, frozenset(e.value for e in node.elts)))
    return found


def test_no_module_spells_a_list_of_allowed_values_again():
    owned = {frozenset(values): name for name, values in TUPLES.items()}
    again = []
    for folder in ("activities", "runner", "workflows", "hydra_plugins"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.name == "choices.py":
                continue
            again += [f"{path.relative_to(ROOT)}:{line} repeats choices.{owned[values]}"
                      for line, values in _string_tuples(path) if values in owned]
    assert not again, again
