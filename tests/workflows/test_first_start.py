"""`status` and `rerun` read a run's first input and start time from the first event of its histories
(`runner.run_kinds.first_start`), never its whole history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from runner.resolve import resolve_run
from runner.run_kinds import first_input, first_start
from runner.submit import start_run
from tests.conftest import SMALL_RUN, compose_config
from workflows.payloads.runs import TrainEvalInput


async def test_first_start_reads_the_input_and_the_start_time(temporal_env, run_root, queues):
    client = temporal_env.client
    run, plain = resolve_run(compose_config(*SMALL_RUN, f"run_root={run_root}", f"experiment_name=first-{queues.training}"))
    run.queues = queues
    before = datetime.now(UTC)
    handle = await start_run(client, run, plain)  # nothing serves its queue: it only has to exist
    try:
        value, started = await first_start(client, handle.id, TrainEvalInput)
        assert value.config_hash == run.config_hash and value.trainer.max_steps == 30
        assert before - timedelta(seconds=5) <= started <= datetime.now(UTC) + timedelta(seconds=5)
        assert (await first_input(client, handle.id, TrainEvalInput)).config_hash == run.config_hash
    finally:
        await handle.terminate()
