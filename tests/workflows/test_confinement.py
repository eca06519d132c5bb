"""Hand-made workflow inputs sent to a real, confined worker (as anyone who reaches the server could send
them): another run_root, a private folder to read, a TensorBoard folder outside the run root each fail
at once, non-retryably, naming the path and the rule; a run inside the limits completes."""

from __future__ import annotations

import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowFailureError

from activities.confinement import Confinement
from runner.resolve import resolve_run
from runner.worker import running_workers
from tests.conftest import SMALL_RUN, compose_config
from workflows.payloads.runs import TrainEvalInput, TrainEvalResult
from workflows.payloads.specs import LoggerSpec
from workflows.train_eval import TrainEvalWorkflow

TINY = ("trainer.max_steps=2", "trainer.checkpoint_every_n_steps=2", "trainer.val_every_n_steps=2")


async def run_input(client, queues, run: TrainEvalInput, confinement: Confinement):
    run.queues = queues
    async with running_workers(client, queues, confinement=confinement):
        handle = await client.start_workflow(TrainEvalWorkflow.run, run, id=f"handmade-{uuid.uuid4().hex[:8]}",
                                             task_queue=queues.orchestration)
        return await handle.result()


async def refusal(client, queues, run: TrainEvalInput, confinement: Confinement) -> str:
    with pytest.raises(WorkflowFailureError) as failure:
        await run_input(client, queues, run, confinement)
    activity_error: Any = failure.value.cause
    assert activity_error.retry_state.name == "NON_RETRYABLE_FAILURE", activity_error
    return str(activity_error.cause)


async def test_an_input_with_another_run_root_is_refused(temporal_env, run_root, queues, tmp_path):
    other = tmp_path / "attacker"
    run, _ = resolve_run(compose_config(*SMALL_RUN, *TINY, f"run_root={run_root}"))
    message = await refusal(temporal_env.client, queues, replace(run, run_root=str(other)), Confinement.of(run_root))
    assert f"is '{other}', but this worker's run_root is '{Path(run_root).resolve()}'" in message, message
    assert not other.exists()  # nothing written there


async def test_a_private_folder_outside_the_allowed_ones_is_never_read(temporal_env, run_root, queues, tmp_path):
    private = tmp_path / "private"
    for label in ("secret", "other"):
        (private / label).mkdir(parents=True)
        (private / label / "a.txt").write_text(f"{label} text")
    private.chmod(0o700)
    run, _ = resolve_run(compose_config(*SMALL_RUN, *TINY, f"run_root={run_root}"))
    run.dataset = replace(run.dataset, path=str(private))
    snapshots = set((Path(run_root) / "snapshots").glob("*")) if (Path(run_root) / "snapshots").exists() else set()
    message = await refusal(temporal_env.client, queues, run, Confinement.of(run_root))
    assert f"dataset.path is '{private}', which lies outside what this worker may read" in message, message
    assert "data_dirs=[FOLDER]" in message
    assert set((Path(run_root) / "snapshots").glob("*")) == snapshots  # no snapshot made of it


async def test_a_tensorboard_folder_outside_the_run_root_is_refused(temporal_env, run_root, queues, tmp_path):
    outside = tmp_path / "tb"
    run, _ = resolve_run(compose_config(*SMALL_RUN, *TINY, f"run_root={run_root}"))
    run.logger = LoggerSpec(name="tensorboard", save_dir=str(outside))  # resolve refuses it; a hand-made input
    message = await refusal(temporal_env.client, queues, run, Confinement.of(run_root))
    assert f"logger.save_dir is '{outside}', which lies outside" in message, message
    assert not outside.exists()


async def test_data_from_a_folder_the_worker_was_started_with_runs_through(temporal_env, run_root, queues, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    rows = "".join(f"{'the market fell' if i % 2 else 'the team won'} again {i},{'ab'[i % 2]}\n" for i in range(60))
    (data / "train.csv").write_text("text,label\n" + rows)
    run, _ = resolve_run(compose_config(*SMALL_RUN, *TINY, "dataset=csv", f"dataset.data_files.train={data}/train.csv",
                                        f"run_root={run_root}", "predict_texts=['the team won']"))
    refused = await refusal(temporal_env.client, queues, run, Confinement.of(run_root))
    assert "dataset.data_files.train" in refused
    result: TrainEvalResult = await run_input(temporal_env.client, queues, run, Confinement.of(run_root, [data]))
    assert result.train.global_step == 2 and result.predictions[0].text == "the team won"
