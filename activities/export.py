"""Trained models users can take away: a run's checkpoint written as a Hugging Face model folder, and new
texts labelled with such a folder or a checkpoint, batched, on this machine (cuda when it has one).

The folder holds what `from_pretrained` and `pipeline("text-classification")` need: the model
(`save_pretrained`, with `id2label`/`label2id` from the snapshot's label names), its tokenizer (truncating
at the length the model was trained with) and `train_tune_export.json` saying which run it came from.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from activities.checkpoints import load_trained_classifier
from activities.models import load_tokenizer, tokenizer_source
from workflows.payloads.errors import ConfigError
from workflows.payloads.messages import DatasetSnapshot
from workflows.payloads.specs import ModelSpec

EXPORT_INFO = "train_tune_export.json"
"""Provenance of an exported folder: run, checkpoint, snapshot, labels, test metrics."""


def export_model(spec: ModelSpec, snapshot: DatasetSnapshot, checkpoint: str, out: Path,
                 provenance: dict[str, Any]) -> Path:
    """Write the classifier of `checkpoint` and its tokenizer to the folder `out` (new or empty).

    The folder is assembled under a temporary name beside `out` and renamed into place, so `out` is either
    a whole model folder or absent.
    """
    out = out.expanduser().resolve()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"--out is '{out}', but it {'is not a folder' if not out.is_dir() else 'is not empty'}; "
                          f"pass a new or empty folder")
    quiet_progress_bars()
    model = load_trained_classifier(spec, checkpoint, snapshot.label_names)
    model.config.problem_type = "single_label_classification"
    tokenizer = load_tokenizer(tokenizer_source(spec))
    tokenizer.model_max_length = snapshot.max_length  # the model never saw longer inputs
    tokenizer.truncation_side = snapshot.truncation_side  # and saw them cut at this end
    tmp = out.parent / f".{out.name}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / EXPORT_INFO).write_text(json.dumps({**provenance, "checkpoint": checkpoint,
                                                   "dataset_snapshot_id": snapshot.id,
                                                   "label_names": list(snapshot.label_names),
                                                   "max_length": snapshot.max_length}, indent=2))
        os.replace(tmp, out)  # onto a missing or empty folder
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


@dataclass
class Labeller:
    """A classifier in eval mode with its tokenizer, label names and truncation length."""

    model: Any
    tokenizer: Any
    label_names: list[str]
    max_length: int
    device: Any

    def label(self, texts: list[str], batch_size: int = 32) -> Iterator[tuple[str, float]]:
        """(label, probability) of each text's most likely class, in order, `batch_size` texts at a time."""
        import torch  # torch loads only when a model does: the command line imports this module

        with torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                encoded = self.tokenizer(texts[start:start + batch_size], truncation=True, max_length=self.max_length,
                                         padding=True, return_tensors="pt")
                logits = self.model(**{k: v.to(self.device) for k, v in encoded.items()}).logits
                best = logits.float().softmax(-1).max(-1)
                for p, i in zip(best.values.tolist(), best.indices.tolist(), strict=False):
                    yield self.label_names[i], float(p)


def quiet_progress_bars() -> None:
    """transformers' loading/saving bars off: the command prints its own one line."""
    from transformers.utils import logging as transformers_logging  # transformers only when a model loads

    transformers_logging.disable_progress_bar()


def local_device():
    """cuda when this machine has it, else the CPU."""
    import torch  # torch loads only when a model does: the command line imports this module

    quiet_progress_bars()
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def folder_labeller(folder: Path) -> Labeller:
    """A Labeller from an exported (or any sequence-classification) model folder."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer  # only when a model loads

    device = local_device()
    try:
        model = AutoModelForSequenceClassification.from_pretrained(folder)
        tokenizer = AutoTokenizer.from_pretrained(folder)
    except (OSError, ValueError) as error:
        raise ConfigError(f"'{folder}' is not a model folder transformers can load: "
                          f"{str(error).splitlines()[0] if str(error) else type(error).__name__}") from error
    names = [str(model.config.id2label.get(i, i)) for i in range(model.config.num_labels)]
    limit = getattr(model.config, "max_position_embeddings", None) or 512
    max_length = min(int(tokenizer.model_max_length), int(limit))
    return Labeller(model.eval().to(device), tokenizer, names, max_length, device)


def checkpoint_labeller(spec: ModelSpec, snapshot: DatasetSnapshot, checkpoint: str) -> Labeller:
    """A Labeller from a run's checkpoint (weights only), its model spec and its snapshot's labels."""
    device = local_device()
    model = load_trained_classifier(spec, checkpoint, snapshot.label_names)
    return Labeller(model.to(device), load_tokenizer(tokenizer_source(spec)), list(snapshot.label_names),
                    snapshot.max_length, device)
