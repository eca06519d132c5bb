"""A trial's training is a function of its own config and seed only, whatever trains beside it in the same
worker process: trainings run on the worker's torch threads at the same time compute, bit for bit, what
each computes alone (dropout included), and so does one trained in segments beside another."""

from __future__ import annotations

import asyncio
import csv
import sys
import threading
import time
from pathlib import Path

import lightning as L
import torch
from torch.utils.data import DataLoader, TensorDataset

from activities.engine.callbacks.rng_isolation import RngIsolation
from activities.engine.checkpoint_files import resume_checkpoint
from activities.engine.fitting import fit
from activities.engine.rng import RNG_LOCK, TrainingRng
from activities.models import load_classifier
from activities.snapshot import build_snapshot
from activities.torch_thread import on_torch_thread
from runner.resolve import resolve_run
from tests.conftest import SMALL_RUN, compose_config
from workflows.payloads.messages import SnapshotRequest, TrainProgress, TrainRequest


class Record:
    """Each step's training loss, as the training reports it to the activity (and when, to check that the
    trainings did run at the same time)."""

    def __init__(self) -> None:
        self.losses: dict[int, float] = {}
        self.times: list[float] = []

    def __call__(self, progress: TrainProgress) -> None:
        if progress.loss is not None:
            self.losses[progress.step] = progress.loss
            self.times.append(time.monotonic())


def validations(folder: Path) -> dict[tuple[int, str], str]:
    """(step, metric) -> value of every validation in the CSV logs of all segments, as written."""
    found = {}
    for log in sorted(folder.glob("logs/*/metrics.csv")):
        with log.open() as rows:
            for row in csv.DictReader(rows):
                for metric in ("val_loss", "val_accuracy"):
                    if row.get(metric):
                        found[(int(row["step"]), metric)] = row[metric]
    return found


def test_concurrent_trainings_compute_what_each_computes_alone(run_root, tmp_path):
    base = (*SMALL_RUN, f"run_root={run_root}", "trainer.max_steps=24", "trainer.val_every_n_steps=8",
            "trainer.checkpoint_every_n_steps=8", "model.dropout=0.2")
    first, _ = resolve_run(compose_config(*base, "seed=3"))
    second, _ = resolve_run(compose_config(*base, "seed=11", "optim.lr=3e-4"))
    snapshot = build_snapshot(SnapshotRequest(first.dataset, first.model.tokenizer, first.run_root))

    def training(run, folder: Path, stops: list[int], record: Record) -> list:
        results = []
        for stop in stops:
            request = TrainRequest(model=run.model, optim=run.optim, trainer=run.trainer, snapshot=snapshot,
                                   seed=run.seed, checkpoint_dir=str(folder), stop_at_step=stop)
            results.append(fit(request, resume_checkpoint(folder)[0], record, threading.Event(), 1))
        return results

    def outcome(results: list, record: Record) -> dict:
        last = results[-1]
        weights = torch.load(last.last_checkpoint, map_location="cpu", weights_only=True)["state_dict"]
        return {"losses": record.losses, "val": validations(Path(last.last_checkpoint).parent),
                "final": last.final_score, "step": last.global_step, "weights": weights}

    alone = {}
    for name, run in (("first", first), ("second", second)):
        record = Record()
        alone[name] = outcome(training(run, tmp_path / f"{name}-alone", [24], record), record)

    # beside them, models are built over and over (as evaluations and predictions do), each drawing its
    # random initialisation from the global generators: that must not shift either training's numbers
    done = threading.Event()
    labels = snapshot.label_names

    def draw_elsewhere() -> None:
        while not done.is_set():
            load_classifier(first.model, len(labels), labels)

    noise = threading.Thread(target=draw_elsewhere, daemon=True)
    records = {"first": Record(), "second": Record()}

    async def side_by_side():
        async def first_in_segments():  # a promoted ladder trial: two segments, resumed from a checkpoint
            results = await on_torch_thread(training, first, tmp_path / "first-beside", [12], records["first"])
            return results + await on_torch_thread(training, first, tmp_path / "first-beside", [24],
                                                   records["first"])

        return await asyncio.gather(
            first_in_segments(),
            on_torch_thread(training, second, tmp_path / "second-beside", [24], records["second"]))

    noise.start()
    try:
        first_results, second_results = asyncio.run(side_by_side())
    finally:
        done.set()
        noise.join()
    spans = [(min(r.times), max(r.times)) for r in records.values()]
    assert max(start for start, _ in spans) < min(end for _, end in spans), "the trainings did not overlap"
    beside = {"first": outcome(first_results, records["first"]), "second": outcome(second_results, records["second"])}

    for name in ("first", "second"):
        one, other = alone[name], beside[name]
        assert one["step"] == other["step"] == 24
        assert sorted(one["losses"]) == list(range(1, 25))
        assert one["losses"] == other["losses"], name  # bit for bit: floats compared with ==
        assert len(one["val"]) == 6, one["val"]  # val_loss and val_accuracy at steps 8, 16 and 24
        # (the run in segments also validates at the end of its first segment, step 12)
        assert {key: other["val"].get(key) for key in one["val"]} == one["val"], name
        assert one["final"] == other["final"] is not None, name
        for key, tensor in one["weights"].items():
            assert torch.equal(tensor, other["weights"][key]), (name, key)
    # the two trials differ, so the comparison above could tell them apart
    assert alone["first"]["losses"] != alone["second"]["losses"]


class Tiny(L.LightningModule):
    """The smallest real Lightning training (a linear layer on random data, no dropout): only its fit's
    start matters here."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(4, 1)

    def training_step(self, batch, batch_idx):
        return self.layer(batch[0]).pow(2).mean()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def test_a_fit_starting_beside_a_step_does_not_rewind_its_generators():
    """Lightning saves the global generators and sets them back around its sanity check at the start of
    every fit (`isolate_rng`, even with no sanity steps). A training in the middle of a step beside it (its
    own state installed, drawing dropout) must draw exactly what it draws alone."""
    data = DataLoader(TensorDataset(torch.ones(8, 4)), batch_size=4)
    models = [Tiny() for _ in range(4)]
    started = threading.Event()

    def fits() -> None:
        started.wait()
        for model in models:
            L.Trainer(max_steps=1, callbacks=[RngIsolation(TrainingRng())], logger=False, accelerator="cpu",
                      enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                      num_sanity_val_steps=0).fit(model, data)

    stepping = TrainingRng()
    stepping.seeded(5, lambda: None)
    other = threading.Thread(target=fits)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads often, as a loaded machine does
    try:
        other.start()
        drawn = []
        with stepping.owned():  # one long step: the fits start while it draws
            started.set()
            end = time.monotonic() + 4
            while time.monotonic() < end:
                drawn.append(torch.rand(1).item())
        other.join()
    finally:
        sys.setswitchinterval(interval)
    alone = TrainingRng()
    alone.seeded(5, lambda: None)
    with alone.owned():
        expected = [torch.rand(1).item() for _ in drawn]
    assert drawn == expected


def _fit_on_a_thread(model, max_steps: int, ckpt_path: str | None = None, root: str | None = None) -> BaseException | None:
    failure: list[BaseException] = []

    def run() -> None:
        try:
            trainer = L.Trainer(max_steps=max_steps, callbacks=[RngIsolation(TrainingRng())], logger=False,
                                accelerator="cpu", enable_checkpointing=False, enable_progress_bar=False,
                                enable_model_summary=False, num_sanity_val_steps=0, default_root_dir=root)
            trainer.fit(model, DataLoader(TensorDataset(torch.ones(8, 4)), batch_size=4), ckpt_path=ckpt_path)
            if ckpt_path is None and root is not None:
                trainer.save_checkpoint(f"{root}/done.ckpt")
        except BaseException as error:  # noqa: BLE001 - handed to the test
            failure.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(120)
    assert not thread.is_alive()
    return failure[0] if failure else None


def test_a_fit_with_nothing_left_to_train_leaves_the_lock_to_the_others(tmp_path):
    """A segment resumed at its last step (a retried attempt that checkpointed its final step, a cancel after
    the last step): Lightning skips the training loop, so neither `on_train_start` nor `on_train_end` runs.
    The lock taken at the fit's start must still be released, or every other training in the worker waits
    for it forever (the suite hung on this)."""
    assert _fit_on_a_thread(Tiny(), 2, root=str(tmp_path)) is None
    assert _fit_on_a_thread(Tiny(), 2, ckpt_path=str(tmp_path / "done.ckpt"), root=str(tmp_path)) is None
    assert RNG_LOCK.acquire(timeout=10), "a finished fit still holds RNG_LOCK"
    RNG_LOCK.release()


def test_a_fit_that_fails_before_its_first_step_leaves_the_lock_to_the_others(tmp_path):
    class Broken(Tiny):
        def configure_optimizers(self):
            raise RuntimeError("no optimiser")

    assert isinstance(_fit_on_a_thread(Broken(), 2, root=str(tmp_path)), RuntimeError)
    assert RNG_LOCK.acquire(timeout=10), "a failed fit still holds RNG_LOCK"
    RNG_LOCK.release()
