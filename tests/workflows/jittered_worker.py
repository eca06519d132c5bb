"""A worker process for the worker-kill variant of tests/workflows/test_deterministic_sweep.py: the real
workflows on the orchestration queue (no activities: the test process serves those) and the jittered
analytic training on the training queue, until it is killed.

    python -m tests.workflows.jittered_worker ADDRESS ORCHESTRATION_QUEUE TRAINING_QUEUE PARALLELISM SEED

Killing it (SIGKILL) loses the workflow's cached state and every training in flight: Temporal replays the
workflow in the next worker and retries the trainings there.
"""

from __future__ import annotations

import asyncio
import sys


async def serve(address: str, orchestration: str, training: str, parallelism: int, seed: int) -> None:
    from temporalio.worker import Worker

    from runner.connect import connect_client
    from runner.worker import WORKFLOWS
    from tests.support.standin_training import augmented_hartmann
    from tests.workflows.test_deterministic_sweep import Jittered

    client = await connect_client(address, "default")
    trainer = Worker(client, task_queue=training, max_concurrent_activities=parallelism,
                     activities=[Jittered(augmented_hartmann(3), 3, seed=seed, most=0.3).activity()])
    async with Worker(client, task_queue=orchestration, workflows=WORKFLOWS), trainer:
        print("serving", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    address, orchestration, training, parallelism, seed = sys.argv[1:6]
    asyncio.run(serve(address, orchestration, training, int(parallelism), int(seed)))
