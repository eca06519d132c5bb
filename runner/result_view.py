"""A single run's result as users read it: the result.json document and the per-class table.

result.json names the labels (`labels`: index -> name, the model's class order, which is also the order of
`per_class` and of the rows and columns of `confusion_matrix`) and the dataset snapshot's rows per split
and label (`class_counts`). Results recorded before these existed show them empty.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from rich import box
from rich.table import Table

from workflows.payloads.messages import EvalResult
from workflows.payloads.runs import TrainEvalResult


def result_document(workflow_id: str, result: TrainEvalResult, config_repo: dict | None = None) -> dict[str, Any]:
    """What result.json holds: the workflow's result, with `labels` (index -> name) in place of the bare
    list of label names, and where its config came from (`config_repo`)."""
    document = {"workflow_id": workflow_id, "config_repo": config_repo or {}, **asdict(result)}
    document.pop("label_names")
    document["labels"] = {str(index): name for index, name in enumerate(result.label_names)}
    return document


def _score(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def per_class_table(result: TrainEvalResult | EvalResult) -> Table | None:
    """One line per class: precision, recall, F1 and test support ('-' where a ratio is undefined, e.g.
    the recall of a class with no test examples); None for a result without per-class scores."""
    if not result.per_class:
        return None
    table = Table(title="per class (test)", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("class")
    for column in ("precision", "recall", "f1", "support"):
        table.add_column(column, justify="right")
    for scores in result.per_class:
        table.add_row(scores.label, _score(scores.precision), _score(scores.recall), _score(scores.f1),
                      str(scores.support))
    return table
