"""A repeated command attaches to its run instead of starting a second one (runner/identity.py), on a real
local server. No worker polls these task queues, so the started workflows simply stay RUNNING: what is
tested is which workflows exist, not what they compute."""

from __future__ import annotations

import asyncio
import uuid

from temporalio.client import WorkflowExecutionStatus

from runner import sweep_session as sweep_module
from runner.coordinate import attach_or_start_coordinator, coordinator_id
from runner.identity import NEVER_REUSE, attach_or_start, attach_or_start_run
from runner.provenance import ConfigRepoState
from runner.resolve import resolve_run
from runner.submit import start_run
from runner.sweep_config import resolve_sweep
from tests.conftest import SMALL_RUN, compose_config
from workflows.payloads.runs import CoordinatorJob


def small_run(run_root, queues, *overrides: str):
    run, plain = resolve_run(compose_config(*SMALL_RUN, f"run_root={run_root}",
                                            f"experiment_name=ident_{uuid.uuid4().hex[:8]}", *overrides))
    run.queues = queues
    return run, plain


async def terminate_all(client, *ids: str) -> None:
    for workflow_id in ids:
        handle = client.get_workflow_handle(workflow_id)
        if (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
            await handle.terminate("test over")


async def test_a_single_run_attaches_to_its_run_and_a_failed_one_starts_fresh(temporal_env, run_root, queues):
    client = temporal_env.client
    run, plain = small_run(run_root, queues)
    canonical = f"{run.experiment}-{run.config_hash[:10]}"

    first = await attach_or_start_run(client, run, plain)
    assert (first.handle.id, first.attached) == (canonical, False)  # no timestamp: the config is the identity
    again = await attach_or_start_run(client, run, plain)  # the runner was killed; the same command again
    assert (again.handle.id, again.attached) == (canonical, True)

    forced = await attach_or_start_run(client, run, plain, new=True)  # --new: a fresh run beside it
    assert (forced.handle.id, forced.attached) == (f"{canonical}-2", False)
    assert (await attach_or_start_run(client, run, plain)).handle.id == f"{canonical}-2"  # the newest one

    await forced.handle.terminate("as a failed or cancelled run would end")
    fresh = await attach_or_start_run(client, run, plain)  # not attached to a run that did not complete
    assert (fresh.handle.id, fresh.attached) == (f"{canonical}-3", False)
    assert (await attach_or_start_run(client, run, plain)).handle.id == f"{canonical}-3"

    other, other_plain = small_run(run_root, queues, "seed=7")  # another config: another run
    assert (await attach_or_start_run(client, other, other_plain)).attached is False
    await terminate_all(client, canonical, f"{canonical}-3", f"{other.experiment}-{other.config_hash[:10]}")


async def test_the_same_run_started_twice_at_the_same_instant_is_one_run(temporal_env, run_root, queues):
    """Both starts find no run, then race on the one id: one starts it, the other attaches (today the
    second command dies with WorkflowAlreadyStartedError)."""
    client = temporal_env.client
    run, plain = small_run(run_root, queues)
    canonical = f"{run.experiment}-{run.config_hash[:10]}"
    both_looked = asyncio.Barrier(2)

    async def start(workflow_id: str):
        await both_looked.wait()  # neither starts before both found nothing
        return await start_run(client, run, plain, workflow_id=workflow_id, id_reuse_policy=NEVER_REUSE)

    one, two = await asyncio.gather(*(attach_or_start(client, canonical, start) for _ in range(2)))
    assert one.handle.id == two.handle.id == canonical
    assert sorted([one.attached, two.attached]) == [False, True]
    runs = [e async for e in client.list_workflows(f"WorkflowId = '{canonical}'")]
    assert len(runs) == 1
    await terminate_all(client, canonical)


async def test_the_same_sweep_started_twice_at_the_same_instant_is_one_sweep(temporal_env, run_root, queues,
                                                                            tmp_path, monkeypatch):
    client = temporal_env.client
    run, plain = resolve_run(compose_config(
        "experiment=bert_sweep", f"run_root={run_root}", f"experiment_name=ident_{uuid.uuid4().hex[:8]}"))
    run.queues = queues
    sweep = resolve_sweep(run, plain)
    repo = ConfigRepoState(path="")
    identity = sweep_module.sweep_identity(sweep, plain, repo.commit)
    workflow_id = sweep_module.sweep_id(sweep, identity)
    both_looked = asyncio.Barrier(2)
    labels = sweep_module.run_labels

    async def run_labels_once_both_looked(*args, **kwargs):  # the last step before the start
        await both_looked.wait()
        return await labels(*args, **kwargs)

    monkeypatch.setattr(sweep_module, "run_labels", run_labels_once_both_looked)
    handles = await asyncio.gather(*(sweep_module.attach_or_start(client, sweep, plain, tmp_path, repo, identity,
                                                                  workflow_id, False) for _ in range(2)))
    assert [h.id for h in handles] == [workflow_id, workflow_id]
    assert (await handles[0].describe()).status == WorkflowExecutionStatus.RUNNING
    await terminate_all(client, workflow_id)


async def test_a_multirun_attaches_to_its_coordinator(temporal_env, run_root, queues):
    client = temporal_env.client
    name = f"ident_{uuid.uuid4().hex[:8]}"
    jobs = [CoordinatorJob(index=i, overrides=[f"seed={i}"], run=small_run(run_root, queues, f"seed={i}")[0])
            for i in range(2)]
    canonical = coordinator_id(name, jobs)
    assert canonical.startswith(f"{name}-x2-") and len(canonical.split("-")) == 3  # no timestamp

    first, again = await asyncio.gather(*(attach_or_start_coordinator(client, name, jobs, 1, queues, "")
                                          for _ in range(2)))
    assert first.handle.id == again.handle.id == canonical and sorted([first.attached, again.attached]) == [False, True]
    forced = await attach_or_start_coordinator(client, name, jobs, 1, queues, "", new=True)
    assert (forced.handle.id, forced.attached) == (f"{canonical}-2", False)
    reordered = [CoordinatorJob(index=i, overrides=j.overrides, run=j.run) for i, j in enumerate(reversed(jobs))]
    assert coordinator_id(name, reordered) != canonical  # other jobs (in another order): another coordinator
    await terminate_all(client, canonical, f"{canonical}-2")


async def test_an_id_whose_run_the_server_forgot_but_whose_checkpoints_remain_is_not_reused(temporal_env, run_root,
                                                                                            queues):
    """After the namespace's retention the server no longer knows a run, but its checkpoints are still in
    run_root: a new run under that id would resume from them, so the next id is taken."""
    client = temporal_env.client
    run, plain = small_run(run_root, queues)
    canonical = f"{run.experiment}-{run.config_hash[:10]}"
    (run_root / "checkpoints" / canonical).mkdir(parents=True)
    started = await attach_or_start_run(client, run, plain)
    assert (started.handle.id, started.attached) == (f"{canonical}-2", False)
    again = await attach_or_start_run(client, run, plain)  # the newest run is found past the forgotten id
    assert (again.handle.id, again.attached) == (f"{canonical}-2", True)
    await terminate_all(client, f"{canonical}-2")
