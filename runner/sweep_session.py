"""A sweep's identity and its run: one sweep per identity (attach to it while it runs or once it
completed, else start it; a different sweep under the same name is refused with the diff), followed to
its end, its files written."""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from runner import worker
from runner.identity import NEVER_REUSE, checkpoints_left
from runner.identity import attach_or_start as one_per_identity
from runner.probe_config import PROBE_KEYS
from runner.provenance import ConfigRepoState
from runner.resolve import section_identities
from runner.run_memo import full_memo, sweep_memo
from runner.search_attributes import run_labels
from runner.submit import console
from runner.sweep_results import report
from runner.sweep_watch import describe_plan, watch_sweep
from runner.warm_start import load_warm_start
from workflows.ladder_sweep import LadderSweepWorkflow
from workflows.payloads.errors import ConfigError
from workflows.payloads.sweep import LadderSweepInput, LadderSweepResult


def sweep_identity(sweep: LadderSweepInput, plain: dict[str, Any], commit: str) -> dict[str, Any]:
    """What defines a sweep's decisions: the run config, the ladder, space, sampler, trial count,
    direction and parallelism (asha's order depends on it), the config repo's commit, for local data
    files their bytes, and its `enqueue:` and `warm_start:` when set."""
    keys = ("model", "dataset", "trainer", "optim", "seed", "ladder", "search_space", "sampler", "n_trials",
            "direction", "parallelism")
    identity: dict[str, Any] = {**{key: plain.get(key) for key in keys}, "config_commit": commit}
    identity.update(section_identities(plain))
    if not (plain.get("ladder") or {}).get("probe_trials"):  # only when set, so sweeps from before it keep their ids
        identity["ladder"] = {k: v for k, v in plain["ladder"].items() if k not in PROBE_KEYS}
    if any((plain.get("budget") or {}).values()):  # only when set, so sweeps from before it keep their ids
        identity["budget"] = plain["budget"]
    if sweep.enqueue:  # only when set: the sweeps started before these keys keep their ids
        identity["enqueue"] = sweep.enqueue
    if sweep.warm_start is not None:
        identity["warm_start"] = {"from": sweep.warm_start.sweeps, "reuse_checkpoints": sweep.warm_start.reuse_checkpoints}
    space = plain.get("search_space")
    if space:  # an unconditional parameter keeps the identity it had before `when` existed
        identity["search_space"] = {**space, "params": [{k: v for k, v in p.items() if k != "when" or v}
                                                        for p in space.get("params") or []]}
    for key in ("objectives", "constraints"):  # only when set, so sweeps from before them keep their ids
        if plain.get(key):
            identity[key] = plain[key]
    if sweep.base.dataset.source == "files":  # the data's bytes too (hashed once, into the base run's config_hash)
        identity["data"] = sweep.base.config_hash[:16]
    return identity


def sweep_id(sweep: LadderSweepInput, identity: dict[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()
    return f"{sweep.name}-{sweep.kind}-{digest[:12]}"


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings as dotted keys (`ladder.eta`); lists and scalars are leaves."""
    if isinstance(value, dict) and value:
        return {k: v for key in sorted(value) for k, v in flatten(value[key], f"{prefix}{key}.").items()}
    return {prefix.rstrip("."): value}


def identity_diff(old: dict[str, Any], new: dict[str, Any]) -> str:
    """The keys whose values differ between two sweep identities, one line each (`  key: old -> new`);
    key order and unchanged keys do not show."""
    before, after = flatten(json.loads(json.dumps(old, default=str))), flatten(json.loads(json.dumps(new, default=str)))
    missing = "(not set)"
    return "\n".join(f"  {key}: {before.get(key, missing)} -> {after.get(key, missing)}"
                     for key in sorted(set(before) | set(after)) if before.get(key, missing) != after.get(key, missing))


async def existing_sweeps(client, name: str) -> list[tuple[str, dict[str, Any]]]:
    """(workflow id, identity) of the sweeps named `name` on this server, newest first."""
    found = []
    async for execution in client.list_workflows(f"WorkflowType = '{LadderSweepWorkflow.__name__}'"):
        memo = full_memo(await execution.memo())
        if memo.get("name") == name:
            found.append((execution.id, memo.get("identity", {})))
    return found


async def run_sweep(
    sweep: LadderSweepInput, plain: dict[str, Any], output_dir: Path, repo: ConfigRepoState | None = None,
    new: bool = False,
) -> LadderSweepResult:
    """Run the sweep through the local workers (`attach_or_start`), follow it to its end and write its
    files; the files are written even when shutting the workers or the server down fails afterwards."""
    queues = sweep.base.queues
    repo = repo or ConfigRepoState(path="")
    identity = sweep_identity(sweep, plain, repo.commit)
    workflow_id = sweep_id(sweep, identity)
    writing: list[asyncio.Future[None]] = []
    try:
        async with worker.serving(plain["temporal"], sweep.base.run_root, queues, sweep.parallelism,
                           readable=worker.run_inputs(sweep.base)) as connection:
            await load_warm_start(connection.client, sweep)  # the earlier sweeps' trials, into its input
            handle = await attach_or_start(connection.client, sweep, plain, output_dir, repo, identity,
                                           workflow_id, new)
            result = await watch_sweep(handle, sweep, (await handle.describe()).start_time)
            # the files are written while the workers and the embedded server shut down (~1 s for the server)
            writing.append(asyncio.ensure_future(asyncio.to_thread(
                report, handle.id, result, output_dir, plain, asdict(repo))))
    finally:
        await asyncio.gather(*writing)  # written even when the shutdown fails; its error still propagates
    return result


async def attach_or_start(
    client, sweep: LadderSweepInput, plain: dict[str, Any], output_dir: Path, repo: ConfigRepoState,
    identity: dict[str, Any], workflow_id: str, new: bool,
):
    """The handle of the sweep of this identity (`workflow_id` and its fresh runs, runner/identity.py) while
    it runs or once it completed, else of a sweep started now; a different sweep under the same name is
    refused with the diff unless `new`."""
    async def refuse_changed() -> None:
        others = [(i, old) for i, old in await existing_sweeps(client, sweep.name) if sweep_id(sweep, old) != workflow_id]
        if others:
            other_id, old = others[0]
            raise ConfigError(
                f"a sweep named '{sweep.name}' already exists ({other_id}) with a different config; "
                f"rename experiment_name, or give --new to start this one anyway; it differs in:\n"
                f"{identity_diff(old, identity)}"
            )

    async def start(run_id: str):
        labels = await run_labels(client, repo, sweep.name, sweep.base.config_hash, sweep.base.model.name,
                                  sweep.base.dataset.name)
        sweep.base.upsert_best_metric = labels.upsert_best_metric
        handle = await client.start_workflow(
            LadderSweepWorkflow.run, sweep, id=run_id, task_queue=sweep.base.queues.orchestration,
            result_type=LadderSweepResult, id_reuse_policy=NEVER_REUSE,
            memo=sweep_memo(sweep.name, identity, plain, sweep.base.config_hash, sweep.parallelism,
                            str(output_dir), labels.memo, sweep.base.run_root),
            search_attributes=labels.search_attributes,
            static_summary=f"{sweep.kind} sweep {sweep.name}: {sweep.n_trials} trials of {sweep.base.model.name} on "
                           f"{sweep.base.dataset.name}",  # for Temporal's Web UI, with its plan below
            static_details=describe_plan(sweep),
        )
        console.print(f"started sweep {handle.id}: {describe_plan(sweep)}", highlight=False)
        return handle

    attachment = await one_per_identity(client, workflow_id, start, "sweep", new, LadderSweepResult, refuse_changed,
                                        lambda run_id: checkpoints_left(sweep.base.run_root, run_id))
    return attachment.handle

