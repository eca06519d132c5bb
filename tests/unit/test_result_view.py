"""A result recorded before per-class scores existed (the replay history's real result) still decodes,
prints and writes result.json, with the new keys empty; the HTML report leaves out what it lacks."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from temporalio.api.common.v1 import Payload
from temporalio.converter import DataConverter

from runner.report import sections
from runner.submit import console, print_result, write_result
from workflows.payloads.runs import TrainEvalResult

HISTORY = Path(__file__).parents[1] / "replay" / "histories" / "train_eval_single.json"


def recorded_result() -> TrainEvalResult:
    events = json.loads(HISTORY.read_text())["events"]
    (completed,) = [e["workflowExecutionCompletedEventAttributes"] for e in events
                    if "workflowExecutionCompletedEventAttributes" in e]
    (raw,) = completed["result"]["payloads"]
    payload = Payload(metadata={k: base64.b64decode(v) for k, v in raw["metadata"].items()},
                      data=base64.b64decode(raw["data"]))
    return DataConverter.default.payload_converter.from_payloads([payload], [TrainEvalResult])[0]


def test_an_old_result_prints_and_writes_with_empty_label_fields(tmp_path):
    result = recorded_result()
    assert result.metrics and not result.per_class and not result.label_names

    document = json.loads(write_result(tmp_path, "old-run", result).read_text())
    assert document["labels"] == {} and document["per_class"] == [] and document["confusion_matrix"] == []
    assert document["class_counts"] == {} and "label_names" not in document
    assert document["metrics"] == result.metrics

    with console.capture() as captured:
        print_result("old-run", result)
    assert "macro_f1" in captured.get() and "per class" not in captured.get()

    parts, figures = sections(result, {})
    assert "confusion_matrix" not in figures and not any("per-class" in part for part in parts)
