"""The per-step work of `ProgressReporter`: the loss read without host-device syncs (`LossReader`), the
divergence check, and the step file rewritten in place."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any

import pytest
import torch

from activities.engine.callbacks.progress_reporter import ProgressReporter
from activities.engine.checkpoint_files import STEP_FILE
from activities.engine.loss_reader import LossReader
from activities.errors import TrainingDiverged


def reporter(folder) -> ProgressReporter:
    periodic: Any = SimpleNamespace(dirpath=str(folder), best_model_path="")
    validation: Any = SimpleNamespace(score=None)
    return ProgressReporter(lambda progress: None, threading.Event(), periodic, attempt=2, resumed_from_step=0,
                            validation=validation)


def trainer_at(step: int, lr: float = 1e-3):
    return SimpleNamespace(global_step=step, lightning_module=SimpleNamespace(optim=SimpleNamespace(lr=lr)))


def test_cpu_losses_are_read_at_once_in_step_order():
    losses = LossReader()
    for step, value in ((1, 2.5), (2, 2.25), (3, 2.0)):
        losses.push(step, torch.tensor(value, requires_grad=True) * 1)
    assert losses.ready() == [(1, 2.5), (2, 2.25), (3, 2.0)]
    assert losses.ready() == [] and losses.pending == []


class FakeEvent:
    """A CUDA event's two calls: `query` (done yet?) and `synchronize` (wait until done)."""

    def __init__(self, done: bool):
        self.done = done
        self.waited = False

    def query(self) -> bool:
        return self.done

    def synchronize(self) -> None:
        self.waited, self.done = True, True


def test_device_losses_are_taken_in_order_once_arrived_and_waited_for_only_at_the_end():
    losses = LossReader()
    arrived, on_the_way, later = FakeEvent(True), FakeEvent(False), FakeEvent(True)
    losses.pending = [(1, torch.tensor(2.0), arrived), (2, torch.tensor(1.5), on_the_way),
                      (3, torch.tensor(1.25), later)]  # type: ignore[list-item]
    assert losses.ready() == [(1, 2.0)]  # step 3 has arrived too, but waits behind step 2: order kept
    assert not on_the_way.waited and len(losses.pending) == 2
    on_the_way.done = True
    assert losses.ready() == [(2, 1.5), (3, 1.25)]
    stuck = FakeEvent(False)
    losses.pending = [(4, torch.tensor(1.0), stuck)]  # type: ignore[list-item]
    assert losses.ready(wait=True) == [(4, 1.0)] and stuck.waited


def test_a_nan_loss_stops_the_fit_naming_the_step_and_the_learning_rate(tmp_path):
    progress = reporter(tmp_path)
    assert progress.checked_loss(trainer_at(1), torch.tensor(1.5)) == 1.5
    with pytest.raises(TrainingDiverged, match=r"loss is nan at step 2 .*optim.lr, now 1e\+08"):
        progress.checked_loss(trainer_at(2, lr=1e8), torch.tensor(float("nan")))


def test_the_end_of_the_fit_reads_what_is_left(tmp_path):
    progress = reporter(tmp_path)
    progress.losses.push(7, torch.tensor(float("inf")))
    with pytest.raises(TrainingDiverged, match="loss is inf at step 7"):
        progress.checked_loss(trainer_at(7), None)


def test_the_step_file_is_rewritten_in_place_and_always_parses(tmp_path):
    progress = reporter(tmp_path)
    for step in (9, 10, 1234):
        progress.write_step(step)
        assert (tmp_path / STEP_FILE).read_text().split() == [str(step), "2"]
    progress.close_step_file()
    progress.close_step_file()  # teardown after an exception closes it again: harmless
    again = reporter(tmp_path)  # the next segment of the trial starts the file afresh
    again.write_step(5)
    assert (tmp_path / STEP_FILE).read_text().split() == ["5", "2"]
    again.close_step_file()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_losses_are_taken_without_a_host_device_sync():
    losses = LossReader()
    x = torch.randn(512, 512, device="cuda")
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")  # any synchronising call raises
    try:
        for step in range(1, 4):
            y = (x @ x).mean()  # queued work the read must not wait for
            losses.push(step, y)
            losses.ready()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    values = losses.ready(wait=True)
    assert [step for step, _ in values][-1] == 3 and losses.pending == []
    assert values[-1][1] == pytest.approx(float((x @ x).mean()), rel=1e-4)
