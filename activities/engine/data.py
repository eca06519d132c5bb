"""The data pipeline of a fit: train/validation loaders over a dataset snapshot's Arrow files (memory-
mapped, not copied), in the seeded epoch order of `EpochPermutationSampler`, padded batch by batch."""

from __future__ import annotations

from pathlib import Path

import datasets
import lightning as L
import torch
from torch.utils.data import DataLoader

from activities.engine.epoch_sampler import EpochPermutationSampler
from activities.ner.spans import IGNORED
from activities.shared_storage import storage
from activities.snapshot_files import META_FILE
from workflows.payloads.messages import DatasetSnapshot


class SnapshotData(L.LightningDataModule):
    """Train/validation loaders over the snapshot's Arrow files (memory-mapped, not copied)."""

    def __init__(self, snapshot: DatasetSnapshot, batch_size: int, eval_batch_size: int, seed: int, workers: int,
                 pin_memory: bool = False):
        super().__init__()
        self.pin_memory = pin_memory
        """Page-locked batches (for a GPU): their copy to the device then does not wait for it."""
        self.snapshot = snapshot
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.seed = seed
        self.workers = workers

    def setup(self, stage: str | None = None) -> None:
        self.splits = load_snapshot_splits(self.snapshot)

    def train_dataloader(self) -> DataLoader:
        return DataLoader(
            self.splits["train"], batch_size=self.batch_size,
            sampler=EpochPermutationSampler(len(self.splits["train"]), self.seed),
            # its own generator for the per-iterator base seed, so starting an iterator (as a resumed fit
            # does mid-epoch) leaves the global RNG, and with it dropout, untouched
            generator=torch.Generator().manual_seed(self.seed),
            collate_fn=PadCollate(self.snapshot.pad_token_id), num_workers=self.workers, pin_memory=self.pin_memory,
        )

    def val_dataloader(self) -> DataLoader:
        return DataLoader(
            self.splits["validation"], batch_size=self.eval_batch_size,
            collate_fn=PadCollate(self.snapshot.pad_token_id), num_workers=self.workers, pin_memory=self.pin_memory,
            generator=torch.Generator().manual_seed(self.seed),  # a validation must not consume the global RNG
        )


def load_snapshot_splits(snapshot: DatasetSnapshot) -> dict:
    storage().fetch_tree(Path(snapshot.uri), complete_marker=META_FILE)  # shared storage, when this machine lacks it

    return {
        split: datasets.load_from_disk(str(Path(snapshot.uri) / split))
        for split in snapshot.split_sizes
    }


class PadCollate:
    """Pads a batch of token id lists to its longest member and builds the attention mask (and pads a
    pair's token type ids with 0). A batch with no padding gets no mask: the model then attends
    everywhere, as an all-ones mask would make it, and transformers need not check on the device whether
    the mask can be dropped (a check that makes the host wait for the GPU at every forward). Labels are
    class indices (long), for regression floats, or for token classification one class index per token
    (padded with -100, which the loss ignores)."""

    def __init__(self, pad_token_id: int):
        self.pad_token_id = pad_token_id

    def __call__(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        longest = max(len(r["input_ids"]) for r in rows)
        ids = torch.full((len(rows), longest), self.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(rows), longest), dtype=torch.long)
        types = torch.zeros((len(rows), longest), dtype=torch.long) if "token_type_ids" in rows[0] else None
        for i, row in enumerate(rows):
            n = len(row["input_ids"])
            ids[i, :n] = torch.as_tensor(row["input_ids"], dtype=torch.long)
            mask[i, :n] = 1
            if types is not None:
                types[i, :n] = torch.as_tensor(row["token_type_ids"], dtype=torch.long)
        first = rows[0]["labels"]
        if isinstance(first, list) and first and isinstance(first[0], int):  # token classification: padding ignored
            labels = torch.full((len(rows), longest), IGNORED, dtype=torch.long)
            for i, row in enumerate(rows):
                labels[i, :len(row["labels"])] = torch.as_tensor(row["labels"], dtype=torch.long)
        else:
            floats = isinstance(first, (float, list))  # regression, multi_label (multi-hot rows)
            labels = torch.as_tensor([r["labels"] for r in rows], dtype=torch.float32 if floats else torch.long)
        batch = {"input_ids": ids, "labels": labels}
        if types is not None:
            batch["token_type_ids"] = types
        if not all(len(row["input_ids"]) == longest for row in rows):
            batch["attention_mask"] = mask
        return batch
