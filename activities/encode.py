"""Turn a split's raw examples into the columns a snapshot stores, by task (`DatasetSpec.task`).

- sequence_classification: `input_ids`, and `labels` the class index.
- pair_classification: the two texts encoded as one pair (`[CLS] a [SEP] b [SEP]`) with `token_type_ids`
  (0 for the first text, 1 for the second), shortened by `task.truncation`; `labels` the class index.
- regression: `input_ids`, and `labels` the float label, standardised ((y - mean) / std with the training
  split's stats) when `task.normalize` is on.
- multi_label: `input_ids`, and `labels` the multi-hot float vector (1.0 at each of the row's labels).

- token_classification: `input_ids`, and `labels` one per sub-token (`activities.ner.align`).

`strata` gives the labels that the carved validation/test splits are stratified by: the classes, or for
regression the quintile of the training labels each row falls in, so every split spans the range; for
multi_label each row's rarest label (`activities.multi_label.strata`); for token classification each
row's most frequent entity type.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Any

from activities import multi_label
from activities.ner import align
from workflows.payloads.specs import DatasetSpec

QUANTILES = 5
"""Bins of a regression label that the carved splits are stratified by."""


def strata(labels: list[Any], task: str) -> list[str]:
    """The label each training row is stratified by when validation/test are carved out of train."""
    if task == "multi_label":
        return multi_label.strata(labels)
    if task == "token_classification":
        return align.strata(labels)
    if task != "regression":
        return labels
    ordered = sorted(labels)
    edges = [ordered[len(ordered) * q // QUANTILES] for q in range(1, QUANTILES)]
    return [str(bisect_right(edges, y)) for y in labels]


def encode(tokenizer: Any, texts: list[Any], pairs: list[str] | None, labels: list[Any], spec: DatasetSpec,
           index: dict[str, int], stats: dict[str, float]) -> dict[str, list]:
    """The snapshot columns of one chunk of examples (`index`: class name -> class index)."""
    task = spec.task
    if task.name == "token_classification":
        return align.encode_tagged(tokenizer, texts, labels, spec, index)
    # only the columns kept are asked for: turning each of the tokenizer's outputs into lists costs time
    if pairs is not None:
        encoded = tokenizer(texts, pairs, truncation=task.truncation, max_length=spec.max_length,
                            return_attention_mask=False)
        columns = {"input_ids": encoded["input_ids"], "token_type_ids": encoded["token_type_ids"]}
    else:
        columns = {"input_ids": tokenizer(texts, truncation=True, max_length=spec.max_length,
                                          return_attention_mask=False, return_token_type_ids=False)["input_ids"]}
    if task.name == "regression":
        mean, std = (stats["mean"], stats["std"]) if task.normalize else (0.0, 1.0)
        columns["labels"] = [(float(y) - mean) / std for y in labels]
    elif task.name == "multi_label":
        columns["labels"] = [multi_label.multi_hot(row, index) for row in labels]
    else:
        columns["labels"] = [index[label] for label in labels]
    return columns


def scale(task_normalize: bool, stats: dict[str, float]) -> tuple[float, float]:
    """(mean, std) that turn a model's output back into the label's units: y = output * std + mean."""
    if task_normalize and stats:
        return stats["mean"], stats["std"]
    return 0.0, 1.0
