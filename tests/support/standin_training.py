"""The real LadderSweepWorkflow with an analytic stand-in for training, for the workflow tests and the
orchestration benchmarks (which import it from here).

Everything but training is train-tune's own: the workflow (ladder, promotions, continue-as-new), the
`suggest` activity (Optuna), the dataset snapshot and checkpoint pruning activities, the workers and the
Temporal dev server. Training is `analytic_train`, registered under the name `train` on the training
queue: it reads the trial's parameters from the request (each searched key lies in [0, 1]), evaluates an
analytic function at the rung's budget in microseconds and returns what the real activity returns. So the
numbers measure the orchestration alone (per-trial overhead, scale) or the search policy on functions
with a known optimum (search efficiency).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from temporalio import activity

from tests.support.problems import augmented_hartmann  # noqa: F401 - its home is problems.py (no temporalio there)
from workflows.payloads.messages import TrainRequest, TrainResult
from workflows.payloads.specs import ParamSpec

# six harmless float fields of the run that the search may set (apply_params accepts model/optim/trainer keys)
KEYS = ("optim.lr", "optim.weight_decay", "optim.eps", "optim.warmup_ratio", "model.dropout",
        "trainer.gradient_clip_val")


def space(dims: int) -> list[ParamSpec]:
    """A `dims`-dimensional unit cube over the first `dims` of KEYS."""
    return [ParamSpec(key=key, type="float", low=0.0, high=1.0) for key in KEYS[:dims]]


def point(request: TrainRequest, dims: int) -> list[float]:
    values = {"optim.lr": request.optim.lr, "optim.weight_decay": request.optim.weight_decay,
              "optim.eps": request.optim.eps, "optim.warmup_ratio": request.optim.warmup_ratio,
              "model.dropout": request.model.dropout or 0.0, "trainer.gradient_clip_val": request.trainer.gradient_clip_val}
    return [float(values[key]) for key in KEYS[:dims]]


@dataclass
class Call:
    """One segment the workflow asked for: the trial's folder, its point, budget and the value returned."""

    folder: str
    x: list[float]
    resumed_from: int
    stop_at: int
    value: float
    started: float
    scheduled_to_start_s: float


@dataclass
class AnalyticTraining:
    """The stand-in `train` activity: `objective(x, fidelity)` with fidelity = stop_at / max_steps."""

    objective: Callable[[list[float], float], float]
    dims: int
    calls: list[Call] = field(default_factory=list)
    reached: dict[str, int] = field(default_factory=dict)
    on_call: Callable[[Call], None] | None = None
    """Called with each segment as it completes (in the worker's event loop)."""
    seconds_per_step: float = 0.0
    """A segment also takes this long per step it trains (asyncio sleep, no CPU): 0, it returns at once."""

    def activity(self):
        @activity.defn(name="train")
        async def train(request: TrainRequest) -> TrainResult:
            info = activity.info()
            stop_at = request.stop_step()
            resumed_from = self.reached.get(request.checkpoint_dir, 0)  # a real resume starts at its checkpoint
            x = point(request, self.dims)
            value = self.objective(x, stop_at / request.trainer.max_steps)
            self.reached[request.checkpoint_dir] = stop_at
            if self.seconds_per_step > 0:
                await asyncio.sleep(self.seconds_per_step * (stop_at - resumed_from))
            call = Call(request.checkpoint_dir, x, resumed_from, stop_at, value, time.time(),
                        (info.started_time - info.current_attempt_scheduled_time).total_seconds())
            self.calls.append(call)
            if self.on_call is not None:
                self.on_call(call)
            checkpoint = f"{request.checkpoint_dir}/step{stop_at:08d}.ckpt"
            return TrainResult(best_checkpoint=checkpoint, last_checkpoint=checkpoint, global_step=stop_at,
                               resumed_from_step=resumed_from, attempt=info.attempt, best_score=value,
                               monitor=request.trainer.monitor, steps_this_attempt=stop_at - resumed_from,
                               final_score=value)

        return train


def no_op(x: list[float], fidelity: float) -> float:
    """A trial that costs nothing: the per-trial overhead benchmark's objective."""
    return sum(x) * fidelity


@dataclass
class Environment:
    client: Any
    base: Any
    """A small real run (bert_tiny tokenizer, a 400-row BBC News snapshot) on this environment's queues."""
    server_pid: int


@contextlib.asynccontextmanager
async def sweep_environment(run_root: Path, training: AnalyticTraining, parallelism: int,
                            max_steps: int) -> AsyncIterator[Environment]:
    """The embedded server (its SQLite file under `run_root`), an orchestration worker (the real workflows
    and activities) and a training worker running `training`."""
    from temporalio.worker import Worker

    from runner.connect import connect_client
    from runner.embedded_server import EmbeddedServer, free_port
    from runner.resolve import resolve_run
    from runner.worker import ORCHESTRATION_ACTIVITIES, WORKFLOWS
    from tests.conftest import SMALL_RUN, compose_config
    from workflows.payloads.specs import TaskQueues

    server = EmbeddedServer.ensure(run_root / "temporal.sqlite", port=free_port(), ui=False)
    try:
        client = await connect_client(server.address, "default")
        suffix = uuid.uuid4().hex[:6]
        base, _ = resolve_run(compose_config(*SMALL_RUN, f"run_root={run_root}", f"trainer.max_steps={max_steps}"))
        base.queues = TaskQueues(training=f"bench-train-{suffix}", orchestration=f"bench-orch-{suffix}")
        with concurrent.futures.ThreadPoolExecutor(max_workers=4) as executor:
            orchestration = Worker(client, task_queue=base.queues.orchestration, workflows=WORKFLOWS,
                                   activities=ORCHESTRATION_ACTIVITIES, activity_executor=executor,
                                   max_concurrent_activities=4)
            trainer = Worker(client, task_queue=base.queues.training, activities=[training.activity()],
                             max_concurrent_activities=max(1, parallelism))
            async with orchestration, trainer:
                yield Environment(client=client, base=base, server_pid=server.state.pid)
    finally:
        server.stop()
