"""A result recorded before per-class scores existed (the replay history's real result) still decodes,
prints and writes result.json, with the new keys empty; the HTML report leaves out what it lacks."""

from __future__ import annotations

import json

from runner.report import sections
from runner.submit import console, print_result, write_result
from tests.unit.report_fixture import recorded
from workflows.payloads.runs import TrainEvalResult


def recorded_result() -> TrainEvalResult:
    return recorded("train_eval_single", TrainEvalResult)


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
