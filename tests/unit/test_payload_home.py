"""Everything that crosses a Temporal boundary has one home, `workflows/payloads/`, which imports nothing else
of the project: the types of every activity's input and result and of every workflow's input, result,
signals, queries and updates are defined there (or are builtins)."""

from __future__ import annotations

import ast
import dataclasses
import sys
import typing
from pathlib import Path

import pytest
from temporalio import workflow

PAYLOADS = Path(__file__).resolve().parents[2] / "workflows" / "payloads"


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append("." * node.level + (node.module or ""))
    return found


@pytest.mark.parametrize("path", sorted(PAYLOADS.glob("*.py")), ids=lambda p: p.name)
def test_the_payload_home_imports_only_the_stdlib_and_itself(path):
    for name in _imports(path):
        top = name.split(".")[0]
        assert name.startswith("workflows.payloads") or top in sys.stdlib_module_names, (path.name, name)


def _payload_types(annotation) -> list[type]:
    """The classes an annotation names (list[X], X | None, dict[str, X], ...), builtins left out."""
    if annotation is None or annotation is type(None):
        return []
    args = typing.get_args(annotation)
    if args:
        return [t for arg in args for t in _payload_types(arg)]
    if isinstance(annotation, type) and annotation.__module__ != "builtins":
        return [annotation]
    return []


def _crossing_types() -> dict[str, list[type]]:
    """What each activity takes and returns, and what each workflow's run, signals, queries and updates take
    and return, by the name it is registered under."""
    from runner.worker import ORCHESTRATION_ACTIVITIES, TRAINING_ACTIVITIES, WORKFLOWS

    crossing: dict[str, list[type]] = {}
    for function in [*ORCHESTRATION_ACTIVITIES, *TRAINING_ACTIVITIES]:
        hints = typing.get_type_hints(function)
        crossing[f"activity {function.__name__}"] = [t for hint in hints.values() for t in _payload_types(hint)]
    for workflow_class in WORKFLOWS:
        definition = workflow._Definition.must_from_class(workflow_class)  # what the worker registers
        handlers = {"run": definition.run_fn, **{name: d.fn for name, d in definition.signals.items()},
                    **{name: d.fn for name, d in definition.queries.items()},
                    **{name: d.fn for name, d in definition.updates.items()}}
        for name, function in handlers.items():
            hints = typing.get_type_hints(function)
            crossing[f"{workflow_class.__name__}.{name}"] = [t for hint in hints.values() for t in _payload_types(hint)]
    return crossing


def _fields_types(cls: type, seen: set[type]) -> None:
    """`cls` and every dataclass its fields name, recursively."""
    if cls in seen or not dataclasses.is_dataclass(cls):
        return
    seen.add(cls)
    for hint in typing.get_type_hints(cls).values():
        for inner in _payload_types(hint):
            _fields_types(inner, seen)


def test_every_type_crossing_a_temporal_boundary_lives_in_the_payload_home():
    crossing = _crossing_types()
    assert len(crossing) >= 27, sorted(crossing)  # every activity and each workflow's handlers were found
    seen: set[type] = set()
    for types in crossing.values():
        for cls in types:
            _fields_types(cls, seen)
    assert len(seen) >= 20
    outside = sorted(f"{cls.__module__}.{cls.__qualname__}" for cls in seen
                     if not cls.__module__.startswith("workflows.payloads."))
    assert not outside, outside


def test_no_dataclass_is_defined_in_the_workflows_outside_the_payload_home():
    workflows = PAYLOADS.parent
    defined = [f"{path.relative_to(workflows)}:{node.name}" for path in workflows.rglob("*.py")
               if PAYLOADS not in path.parents
               for node in ast.walk(ast.parse(path.read_text()))
               if isinstance(node, ast.ClassDef) and any("dataclass" in ast.unparse(d) for d in node.decorator_list)]
    assert not defined, defined


def test_payload_types_are_imported_from_their_home_not_through_a_workflow_module():
    import importlib

    root = PAYLOADS.parents[1]
    through = []
    for folder in ("activities", "runner", "workflows", "hydra_plugins", "tests", "benchmarks"):
        for path in (root / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if not (isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
                        and node.module.startswith("workflows.") and not node.module.startswith("workflows.payloads")):
                    continue
                module = importlib.import_module(node.module)
                for alias in node.names:
                    found = getattr(module, alias.name, None)
                    if isinstance(found, type) and found.__module__.startswith("workflows.payloads"):
                        through.append(f"{path.relative_to(root)}:{node.lineno} {alias.name} via {node.module}")
    assert not through, through
