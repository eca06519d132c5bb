"""A `train-tune worker` that SIGKILLs itself at one chosen moment of the real code path, for the aimed
chaos tests:

    python -m tests.chaos.faulty_worker FAULT worker temporal.address=... (the worker command's arguments)

FAULT is one of
- `checkpoint_write:N`: inside the N-th checkpoint save of this process, when its bytes are written to
  `<name>.tmp` and being fsynced, before its checksum and its rename;
- `after_segment:N`: when the N-th training segment of this process has finished and saved its last
  checkpoint, before the activity reports its result (a kill between rungs);
- `evaluation:N`: inside the N-th evaluation, after its first batch;
- `copy_checkpoint:N`: inside PBT's N-th checkpoint copy, when the copy's bytes are written under their
  temporary name, before the target's own checkpoints are replaced;
- `none`: an ordinary worker.
It prints `CHAOS: SIGKILL <where>` just before dying.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable


def die(where: str) -> None:
    print(f"CHAOS: SIGKILL {where}", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


def _checkpoint_write(due: Callable[[], bool]) -> None:
    import types

    from activities.engine import checkpoint_io

    save = checkpoint_io.ChecksummedCheckpointIO.save_checkpoint
    armed: list[str] = []

    def fatal_fsync(fd: int) -> None:
        os.fsync(fd)
        if armed:
            die(f"inside the write of {armed[0]} (bytes in its .tmp, no checksum, not renamed)")

    checkpoint_io.os = types.SimpleNamespace(**{**vars(os), "fsync": fatal_fsync})

    def saving(self, checkpoint, path, storage_options=None):
        if due():
            armed.append(str(path))
        return save(self, checkpoint, path, storage_options)

    checkpoint_io.ChecksummedCheckpointIO.save_checkpoint = saving


def _after_segment(due: Callable[[], bool]) -> None:
    from activities.engine import fitting as engine_fitting

    fit = engine_fitting.fit

    def fitting(request, *args, **kwargs):
        result = fit(request, *args, **kwargs)
        if due():
            die(f"after the segment to step {result.global_step} of {request.checkpoint_dir} finished, "
                "before its result was reported")
        return result

    engine_fitting.fit = fitting


def _evaluation(due: Callable[[], bool]) -> None:
    from activities import evaluate

    run_evaluation = evaluate.run_evaluation

    def evaluating(request, heartbeat=lambda n: None):
        dying = due()

        def beat(done: int) -> None:
            if dying:
                die(f"inside the evaluation of {request.checkpoint} after {done} examples")
            heartbeat(done)

        return run_evaluation(request, beat)

    evaluate.run_evaluation = evaluating


def _copy_checkpoint(due: Callable[[], bool]) -> None:
    from activities import copy_checkpoint

    copy_synced = copy_checkpoint._copy_synced

    def copying(source, destination):
        copy_synced(source, destination)
        if destination.name.endswith(".ckpt.tmp") and due():
            die(f"inside the copy of {source} into {destination.parent} (bytes staged, not renamed)")

    copy_checkpoint._copy_synced = copying


FAULTS: dict[str, Callable[[Callable[[], bool]], None]] = {
    "checkpoint_write": _checkpoint_write,
    "after_segment": _after_segment,
    "evaluation": _evaluation,
    "copy_checkpoint": _copy_checkpoint,
}


def install(fault: str) -> None:
    kind, _, nth = fault.partition(":")
    nth_call = int(nth or 1)
    calls = [0]

    def due() -> bool:
        calls[0] += 1
        return calls[0] == nth_call

    if kind != "none" and kind not in FAULTS:
        raise SystemExit(f"unknown fault {fault!r}")
    if kind in FAULTS:
        FAULTS[kind](due)


if __name__ == "__main__":
    install(sys.argv[1])
    sys.argv = ["train-tune", *sys.argv[2:]]
    from runner.cli import main

    main()
