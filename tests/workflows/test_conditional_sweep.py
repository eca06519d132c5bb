"""A conditional sha sweep over `model` with a learning-rate range per model, with real training through
LadderSweepWorkflow: bert_tiny (here with a cased copy of its tokenizer, so the two models tokenise
differently) and pretrained minilm_l6 both train, each on the snapshot of its own tokenizer (two snapshots,
made once each), every trial holds only its active parameters within its model's range, a SIGKILLed worker
costs nothing, and the history replays."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
from pathlib import Path

from temporalio.worker import Replayer

from runner.model_choices import resolve_model_choices
from runner.resolve import resolve_run
from runner.sweep_config import resolve_sweep
from tests.conftest import SMALL_RUN, compose_config
from tests.workflows.test_resume import start_worker, stop
from workflows.ladder_sweep import LadderSweepWorkflow
from workflows.payloads.messages import DatasetSnapshot, EvaluateRequest, SnapshotRequest, TrainRequest
from workflows.payloads.sweep import LadderSweepResult
from workflows.train_eval import TrainEvalWorkflow

MODEL_LR = ["search_space=model_lr", "ladder=sha", "ladder.rungs=[4,8]", "ladder.eta=2", "n_trials=4",
            "sampler=tpe", "sampler.seed=2", "trainer.max_steps=8", "trainer.checkpoint_every_n_steps=4",
            "trainer.val_every_n_steps=4", "trainer.batch_size=8", "trainer.heartbeat_timeout_s=4",
            "trainer.progress_interval_s=0.2", "dataset.max_samples=120"]


def cased_tokenizer(folder: Path) -> str:
    """A copy of bert_tiny's (uncased) tokenizer that keeps case: other tokens, so another snapshot."""
    source = Path(compose_config("model=bert_tiny").model.tokenizer)
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(source / name, folder / name)
    for name, section in (("tokenizer_config.json", None), ("tokenizer.json", "normalizer")):
        data = json.loads((folder / name).read_text())
        (data[section] if section else data)["do_lower_case" if section is None else "lowercase"] = False
        (folder / name).write_text(json.dumps(data))
    return str(folder)


async def activity_inputs(client, history, name: str, kind: type) -> list:
    return [(await client.data_converter.decode(e.activity_task_scheduled_event_attributes.input.payloads, [kind]))[0]
            for e in history.events if e.HasField("activity_task_scheduled_event_attributes")
            and e.activity_task_scheduled_event_attributes.activity_type.name == name]


async def test_a_model_search_with_per_model_lr_survives_a_worker_kill(temporal_env, run_root, queues, tmp_path):
    args = (*SMALL_RUN, *MODEL_LR, f"run_root={run_root}")
    base, plain = resolve_run(compose_config(*args))
    models = resolve_model_choices(plain, lambda extra: compose_config(*args, *extra))
    models["bert_tiny"].tokenizer = cased_tokenizer(Path(run_root) / "tokenizers" / f"cased-{queues.training}")
    sweep = resolve_sweep(base, plain, models)
    sweep.base.queues, sweep.parallelism = queues, 2
    client = temporal_env.client
    address = client.service_client.config.target_host
    log = tmp_path / "workers.log"
    worker = start_worker(address, queues, run_root, log, "max_concurrent_activities=2")
    try:
        handle = await client.start_workflow(LadderSweepWorkflow.run, sweep, id=f"cond-{queues.training}",
                                             task_queue=queues.orchestration)
        for _ in range(3000):  # kill the worker once a segment has trained past its first checkpoint
            if list((Path(run_root) / "checkpoints" / handle.id).glob("*/*.ckpt")):
                break
            assert worker.poll() is None, log.read_text()[-3000:]
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("no trial reached a checkpoint")
        worker.send_signal(signal.SIGKILL)
        worker.wait(30)
        worker = start_worker(address, queues, run_root, log, "max_concurrent_activities=2")
        result: LadderSweepResult = await asyncio.wait_for(handle.result(), timeout=900)
    finally:
        stop(worker)

    assert [t.state for t in result.trials].count("completed") == 2 and not any(t.error for t in result.trials)
    assert {t.params["model"] for t in result.trials} == {"bert_tiny", "minilm_l6"}, [t.params for t in result.trials]
    for trial in result.trials:  # only the active parameters, each in its model's range
        lr = trial.params["optim.lr"]
        if trial.params["model"] == "bert_tiny":
            assert set(trial.params) == {"model", "optim.lr"} and 1e-4 <= lr <= 3e-3
        else:
            assert set(trial.params) == {"model", "optim.lr", "optim.warmup_ratio"} and 1e-5 <= lr <= 1e-4
    history = await handle.fetch_history()
    snapshots = await activity_inputs(client, history, "snapshot_dataset", SnapshotRequest)
    assert sorted(s.tokenizer for s in snapshots) == sorted(m.tokenizer for m in models.values())  # once each
    names = {e.event_id: e.activity_task_scheduled_event_attributes.activity_type.name for e in history.events
             if e.HasField("activity_task_scheduled_event_attributes")}
    made: dict[str, DatasetSnapshot] = {}
    for event in history.events:
        done = event.activity_task_completed_event_attributes
        if event.HasField("activity_task_completed_event_attributes") and names[done.scheduled_event_id] == \
                "snapshot_dataset":
            (snapshot,) = await client.data_converter.decode(done.result.payloads, [DatasetSnapshot])
            made[snapshot.id] = snapshot
    assert len(made) == 2
    by_tokenizer = dict(zip((s.tokenizer for s in snapshots), made.values(), strict=True))  # completed in order
    trainings = await activity_inputs(client, history, "train", TrainRequest)
    assert {t.model.name for t in trainings} == {"bert_tiny", "minilm_l6"}
    assert all(t.snapshot.id == by_tokenizer[t.model.tokenizer].id for t in trainings)  # its model's tokens
    (tested,) = await activity_inputs(client, history, "evaluate", EvaluateRequest)
    assert tested.snapshot.id == by_tokenizer[tested.model.tokenizer].id and result.best_test is not None
    retried = [e for e in history.events if e.HasField("activity_task_started_event_attributes")
               and e.activity_task_started_event_attributes.attempt > 1]
    assert retried, "the kill should have cost a training attempt"
    await Replayer(workflows=[LadderSweepWorkflow, TrainEvalWorkflow]).replay_workflow(history)
