"""Trained models users can take away: a run's checkpoint written as a Hugging Face model folder, and new
texts labelled with such a folder or a checkpoint, batched, on this machine (cuda when it has one).

The folder holds what `from_pretrained` and `pipeline("text-classification")` need: the model
(`save_pretrained`, with `id2label`/`label2id` from the snapshot's label names), its tokenizer (truncating
at the length the model was trained with) and `train_tune_export.json` saying which run it came from and
its task. A pair classifier takes `{"text": a, "text_pair": b}` in the pipeline. A regression model trained
on a standardised label has the label's mean and std folded into its output layer, so the folder's model
(and the pipeline, which applies no function to a regression output) gives values in the label's units.
A multi-label model's config has problem_type multi_label_classification, so the pipeline applies a
sigmoid per label (`pipeline(..., top_k=None, function_to_apply="sigmoid")` gives every label's
probability); `train_tune_export.json` records the threshold and separator `predict` uses. A token
classifier's folder loads in `pipeline("token-classification", aggregation_strategy="simple")` (its labels
are the BIO tags).
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from activities.checkpoints import load_trained_classifier
from activities.encode import scale
from activities.models import auto_model_class, load_tokenizer, tokenizer_source
from activities.multi_label import NO_LABEL
from activities.multi_label_metrics import chosen
from activities.ner.predict import tag_texts
from workflows.payloads.errors import ConfigError
from workflows.payloads.messages import DatasetSnapshot, Prediction
from workflows.payloads.specs import ModelSpec, TaskSpec

EXPORT_INFO = "train_tune_export.json"
"""Provenance of an exported folder: run, checkpoint, snapshot, labels, task, test metrics."""
PAIR_SEPARATOR = "|||"
"""Between the two texts of a pair given to `predict` (`first ||| second`)."""


def fold_scale(model: Any, mean: float, std: float) -> None:
    """Make a one-output regression model give y * std + mean: scale its last linear layer in place."""
    import torch  # torch loads only when a model does: the command line imports this module

    last = [m for m in model.modules() if isinstance(m, torch.nn.Linear) and m.out_features == 1][-1]
    with torch.no_grad():
        last.weight.mul_(std)
        if last.bias is not None:
            last.bias.mul_(std).add_(mean)


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
    model = load_trained_classifier(spec, checkpoint, snapshot.label_names, snapshot.task.name)
    mean, std = scale(snapshot.task.normalize, snapshot.label_stats)
    if snapshot.task.name == "regression" and (mean, std) != (0.0, 1.0):
        fold_scale(model, mean, std)
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
                                                   "task": snapshot.task.name,
                                                   **({"threshold": snapshot.task.threshold,
                                                       "label_separator": snapshot.task.label_separator}
                                                      if snapshot.task.name == "multi_label" else {}),
                                                   "max_length": snapshot.max_length}, indent=2))
        os.replace(tmp, out)  # onto a missing or empty folder
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


@dataclass
class Labeller:
    """A model in eval mode with its tokenizer, label names, truncation length, task and output scale."""

    model: Any
    tokenizer: Any
    label_names: list[str]
    max_length: int
    device: Any
    task: TaskSpec = field(default_factory=TaskSpec)
    scale: tuple[float, float] = (0.0, 1.0)
    """Regression: (mean, std) that turn the model's output into the label's units."""

    def _encode(self, texts: list[str]) -> Any:
        if self.task.name != "pair_classification":
            return self.tokenizer(texts, truncation=True, max_length=self.max_length, padding=True,
                                  return_tensors="pt")
        split = [text.split(PAIR_SEPARATOR, 1) for text in texts]
        bad = next((text for text, parts in zip(texts, split, strict=True) if len(parts) != 2), None)
        if bad is not None:
            raise ConfigError(f"text {bad[:60]!r} has no '{PAIR_SEPARATOR}', but a pair classifier labels two texts: "
                              f"give 'first text {PAIR_SEPARATOR} second text'")
        return self.tokenizer([a.strip() for a, _ in split], [b.strip() for _, b in split],
                              truncation=self.task.truncation, max_length=self.max_length, padding=True,
                              return_tensors="pt")

    def tag(self, texts: list[str], batch_size: int = 32) -> list[Prediction]:
        """Token classification: each text's entities with character spans (`activities.ner.predict`)."""
        return tag_texts(self.model, self.tokenizer, self.label_names, self.max_length, self.device, texts, batch_size)

    def predict(self, texts: list[str], batch_size: int = 32) -> list[Prediction]:
        """One Prediction per text, in order: `label` for every task, and `entities` for token classification."""
        if self.task.name == "token_classification":
            return self.tag(texts, batch_size)
        return [Prediction(text=text, label=label, score=score)
                for text, (label, score) in zip(texts, self.label(texts, batch_size), strict=True)]

    def label(self, texts: list[str], batch_size: int = 32) -> Iterator[tuple[str, float]]:
        """(label, probability) of each text's most likely class, in order, `batch_size` texts at a time;
        for regression (its value as text, the value); for multi_label (the labels above the threshold
        joined by the separator, or '(none)'; `activities.multi_label_metrics.chosen` says the score); for
        token classification (its entities as `TYPE "text" [start:end]`, the mean probability of its words'
        tags)."""
        import torch  # torch loads only when a model does: the command line imports this module

        if self.task.name == "token_classification":
            yield from ((p.label, p.score) for p in self.tag(texts, batch_size))
            return

        mean, std = self.scale
        with torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                encoded = self._encode(texts[start:start + batch_size])
                logits = self.model(**{k: v.to(self.device) for k, v in encoded.items()}).logits.float()
                if self.task.name == "regression":
                    for value in (logits.squeeze(-1) * std + mean).tolist():
                        yield f"{value:.4g}", float(value)
                    continue
                if self.task.name == "multi_label":
                    for row in logits.sigmoid().tolist():
                        yield chosen(row, self.label_names, self.task.threshold, self.task.label_separator, NO_LABEL)
                    continue
                best = logits.softmax(-1).max(-1)
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
    """A Labeller from an exported (or any sequence- or token-classification) model folder."""
    from transformers import AutoConfig, AutoTokenizer  # only when a model loads

    device = local_device()
    info = folder / EXPORT_INFO
    task = json.loads(info.read_text()).get("task", "") if info.is_file() else ""
    try:
        if not task and any(str(a).endswith("ForTokenClassification")
                            for a in AutoConfig.from_pretrained(folder).architectures or []):
            task = "token_classification"
        model = auto_model_class(task or "sequence_classification").from_pretrained(folder)
        tokenizer = AutoTokenizer.from_pretrained(folder)
    except (OSError, ValueError) as error:
        raise ConfigError(f"'{folder}' is not a model folder transformers can load: "
                          f"{str(error).splitlines()[0] if str(error) else type(error).__name__}") from error
    names = [str(model.config.id2label.get(i, i)) for i in range(model.config.num_labels)]
    limit = getattr(model.config, "max_position_embeddings", None) or 512
    max_length = min(int(tokenizer.model_max_length), int(limit))
    recorded = json.loads(info.read_text()) if info.is_file() else {}
    task = task or {"regression": "regression", "multi_label_classification": "multi_label"}.get(
        model.config.problem_type or "", "sequence_classification")
    spec = TaskSpec(name=task, **{k: recorded[k] for k in ("threshold", "label_separator") if k in recorded})
    return Labeller(model.eval().to(device), tokenizer, names, max_length, device, spec)


def checkpoint_labeller(spec: ModelSpec, snapshot: DatasetSnapshot, checkpoint: str) -> Labeller:
    """A Labeller from a run's checkpoint (weights only), its model spec and its snapshot's labels."""
    device = local_device()
    return snapshot_labeller(load_trained_classifier(spec, checkpoint, snapshot.label_names, snapshot.task.name),
                             spec, snapshot, device)


def snapshot_labeller(model: Any, spec: ModelSpec, snapshot: DatasetSnapshot, device: Any) -> Labeller:
    """A Labeller that reads texts as the snapshot's training data was read: its tokenizer cut at the same
    length and end, its task, its label scale."""
    tokenizer = load_tokenizer(tokenizer_source(spec))
    tokenizer.truncation_side = snapshot.truncation_side
    return Labeller(model.to(device), tokenizer, list(snapshot.label_names), snapshot.max_length, device,
                    snapshot.task, scale(snapshot.task.normalize, snapshot.label_stats))
