"""The commands that run nothing start light (issue 24): `--help`, `--cfg job` and each Tab press of shell
completion import neither Temporal nor the training and plotting libraries, and `status`, `results`,
`cancel` and `pause` load Temporal's client but not its workers, the activities' libraries or the plots.
Each check runs a fresh interpreter and reads what it imported (`sys.modules`, or `-X importtime` for a
whole command); none measures time (benchmarks/cli_startup.py does)."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = {"torch", "lightning", "transformers", "datasets", "optuna", "matplotlib", "plotly", "pandas", "mlflow",
         "tensorboard", "pyarrow", "numpy"}
"""Libraries only training, evaluation, suggestions or a drawn plot need."""
SERVING = {"temporalio.worker", "runner.worker", "activities.train", "activities.evaluate", "activities.suggest"}
"""What serving a run needs: a command loads it only once it serves (embedded server) or runs."""
ENV = {**os.environ, "COLUMNS": "200"}


def modules_after(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running `code`."""
    done = subprocess.run([sys.executable, "-c", f"{code}\nimport json, sys; print(json.dumps(sorted(sys.modules)))"],
                          capture_output=True, text=True, env=ENV, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return set(json.loads(done.stdout.splitlines()[-1]))


def modules_of_command(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> set[str]:
    """Every module `train-tune ARGS` imported, read from `-X importtime` (the process ends in `os._exit`,
    so it cannot print its own `sys.modules`)."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "runner.cli", *args], capture_output=True,
                          text=True, env={**ENV, **(env or {})}, cwd=cwd, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [line for line in done.stderr.splitlines() if line.startswith("import time:") and line.count("|") == 2]
    modules = {line.rsplit("|", 1)[1].strip() for line in lines}
    assert "hydra" in modules  # the output was read
    return modules


def heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY)


def test_importing_the_cli_loads_hydra_and_nothing_that_runs():
    modules = modules_after("import runner.cli")
    assert heavy(modules) == []
    assert sorted(m for m in modules if m.split(".")[0] in ("temporalio", "rich")) == []
    assert "runner.launch" not in modules and "runner.commands" not in modules


@pytest.mark.parametrize("module", ["runner.commands", "runner.run_kinds", "runner.coordinate"])
def test_the_commands_modules_load_the_client_but_not_the_workers_or_heavy_libraries(module):
    modules = modules_after(f"import {module}")
    assert heavy(modules) == []
    assert "temporalio.client" in modules
    assert sorted(modules & SERVING) == []


def test_the_run_path_loads_the_workers_but_leaves_the_heavy_libraries_to_the_activities():
    modules = modules_after("import runner.launch")
    assert "temporalio.worker" in modules
    assert heavy(modules) == []


@pytest.mark.parametrize("args, env", [
    (["--help"], None),
    (["experiment=bert_single", "--cfg", "job"], None),
    (["-sc", "query=bash"], {"COMP_LINE": "train-tune model=", "COMP_POINT": "17"}),
    (["-sc", "query=bash"], {"COMP_LINE": "train-tune trainer.", "COMP_POINT": "19"}),
], ids=["help", "cfg-job", "complete-group", "complete-key"])
def test_commands_that_run_nothing_import_no_temporal_and_no_heavy_library(args, env, tmp_path):
    modules = modules_of_command(args, tmp_path, env)
    assert heavy(modules) == []
    assert sorted(m for m in modules if m.split(".")[0] == "temporalio") == []


def test_status_help_imports_no_worker(tmp_path):
    modules = modules_of_command(["status", "--help"], tmp_path)
    assert heavy(modules) == []
    assert sorted(modules & SERVING) == []


def test_the_cli_names_every_command():
    from runner.cli import COMMAND_NAMES
    from runner.commands import COMMANDS

    assert sorted(COMMAND_NAMES) == sorted(COMMANDS)


def test_a_copied_config_repository_shares_the_config_store():
    """Hydra 1.3 deep-copies its repository (and so the ConfigStore) for every group it lists; shared, a
    config registered after the copy is still found, as on Hydra's main branch."""
    from hydra.core.config_store import ConfigStore

    from runner.shared_config_store import share_config_store

    share_config_store()
    store = ConfigStore.instance()
    assert copy.deepcopy(store) is store
    copied = copy.deepcopy({"store": store})
    store.store(group="zz_test_shared_store", name="late", node={"a": 1})
    assert copied["store"].load("zz_test_shared_store/late.yaml").node.a == 1
