"""task=multi_label: label sets read right or refused at resolve time naming file and row
(`activities.multi_label`), the multi-hot snapshot columns, metrics against scikit-learn's definitions
(`activities.multi_label_metrics`), what predict says, and the config that selects it."""

from __future__ import annotations

import json
import random

import pytest

from activities.data_sources import check_dataset_spec, load_splits
from activities.encode import encode, strata
from activities.multi_label_metrics import chosen, count_batch, multi_label_report, report_from_counts
from activities.snapshot import snapshot_id
from runner.check_values import check_monitor
from workflows.payloads.errors import ConfigError
from workflows.payloads.specs import DatasetSpec, TaskSpec

TAGS = ["sports;politics", "sports", "business", " politics ; business ", "sports;business;", "politics"]


def spec_of(tmp_path, train: list, fmt: str = "csv", validation: list | None = None, **extra) -> DatasetSpec:
    """A dataset of `train` label cells (csv text or json values), one text each."""
    files = {}
    for split, cells in (("train", train), ("validation", validation)):
        if cells is None:
            continue
        path = tmp_path / f"{split}.{'csv' if fmt == 'csv' else 'jsonl'}"
        if fmt == "csv":
            path.write_text("text,tags\n" + "".join(f"text number {i},{c}\n" for i, c in enumerate(cells)))
        else:
            path.write_text("".join(json.dumps({"text": f"text number {i}", "tags": c}) + "\n" for i, c in enumerate(cells)))
        files[split] = str(path)
    task = TaskSpec(name="multi_label", **{k: extra.pop(k) for k in ("threshold", "label_separator") if k in extra})
    return DatasetSpec(name="tags", source="files", format=fmt, data_files=files, label_column="tags", task=task, **extra)


def test_csv_cells_are_split_on_the_separator_and_names_are_the_sorted_training_union(tmp_path):
    intake = load_splits(spec_of(tmp_path, TAGS))
    assert intake.label_names == ["business", "politics", "sports"]
    assert intake.splits["train"].labels == [("politics", "sports"), ("sports",), ("business",),
                                             ("business", "politics"), ("business", "sports"), ("politics",)]


def test_json_lists_a_custom_separator_and_integer_labels_indexing_label_names(tmp_path):
    intake = load_splits(spec_of(tmp_path, [["b", "a"], ["a"], ["b", "b"], []], fmt="json"))
    assert intake.label_names == ["a", "b"] and intake.splits["train"].labels == [("a", "b"), ("a",), ("b",), ()]
    piped = load_splits(spec_of(tmp_path, ["x|y", "y", "x"], label_separator="|"))
    assert piped.splits["train"].labels == [("x", "y"), ("y",), ("x",)]
    ints = load_splits(spec_of(tmp_path, [[0, 2], [1], [2]], fmt="json", label_names=["low", "mid", "high"]))
    assert ints.label_names == ["low", "mid", "high"] and ints.splits["train"].labels == [("low", "high"), ("mid",), ("high",)]
    named = load_splits(spec_of(tmp_path, TAGS, label_names=["sports", "politics", "business"]))
    assert named.splits["train"].labels[0] == ("sports", "politics")  # in label_names order


def test_an_empty_list_or_csv_cell_is_no_labels_and_is_named_in_a_warning(tmp_path):
    intake = load_splits(spec_of(tmp_path, [*TAGS, ""]))
    assert intake.splits["train"].labels[-1] == ()
    assert any("1 row(s) have no labels (line 8); they train and score as none of the labels" in n for n in intake.notes)
    notes = check_dataset_spec(spec_of(tmp_path, [["a"], [], ["a", "b"]], fmt="json"))
    assert any("1 row(s) have no labels (line 2)" in n for n in notes)


@pytest.mark.parametrize("cells, fmt, extra, fragment", [
    ([["a"], None, ["b"]], "json", {}, "train file '{train}' has no label cell in 1 row(s) (line 2); give a list ([] for none"),
    (["a", "0.37", "b"], "csv", {}, "holds non-integer numbers (line 3: 0.37), which look like a regression target, not labels: "
                                    "use task=regression"),
    (["a;b", "c"], "csv", {"label_names": ["a", "b"]},
     "dataset.label_names is ['a', 'b'], but train file '{train}' has label 'c' (line 3) that is not among them"),
    ([[0, 3]], "json", {"label_names": ["a", "b"]}, "has integer label 3; integer labels index label_names from 0"),
    (["a", "a"], "csv", {}, "has 1 label(s) (a); a multi-label model needs at least two"),
    (["a"], "csv", {"threshold": 1.0}, "task.threshold is 1.0, but must be in (0, 1)"),
    (["a"], "csv", {"label_separator": " "}, "task.label_separator is ' ', but must be a non-blank string"),
])
def test_bad_label_columns_are_refused_in_one_line_naming_file_and_row(tmp_path, cells, fmt, extra, fragment):
    spec = spec_of(tmp_path, cells, fmt=fmt, **extra)
    with pytest.raises(ConfigError) as caught:
        check_dataset_spec(spec)
    message = str(caught.value)
    assert fragment.format(train=spec.data_files["train"]) in message and "\n" not in message


def test_a_validation_label_the_training_split_lacks_is_refused_naming_the_row(tmp_path):
    spec = spec_of(tmp_path, TAGS, validation=["sports", "politics;weather"])
    with pytest.raises(ConfigError, match=r"validation file '.*validation.csv' has label 'weather' \(line 3\), which the "
                                          "training split lacks"):
        check_dataset_spec(spec)


def test_single_label_data_is_read_with_a_warning_naming_sequence_classification(tmp_path):
    notes = check_dataset_spec(spec_of(tmp_path, ["a", "b", "a", "b"]))
    assert any("no row has more than one label; that is single-label data, which task=sequence_classification fits"
               in n for n in notes)
    assert not any("single-label" in n for n in check_dataset_spec(spec_of(tmp_path, TAGS)))


def test_single_label_tasks_now_point_lists_at_task_multi_label(tmp_path):
    spec = spec_of(tmp_path, TAGS)
    spec.task = TaskSpec()
    with pytest.raises(ConfigError, match="use task=multi_label"):
        check_dataset_spec(spec)


def test_snapshot_columns_are_multi_hot_floats_and_strata_are_the_rarest_label(tmp_path):
    from activities.models import load_tokenizer
    from tests.conftest import compose_config

    spec = spec_of(tmp_path, TAGS)
    tokenizer = load_tokenizer(compose_config("model=bert_tiny").model.tokenizer)
    intake = load_splits(spec)
    index = {name: i for i, name in enumerate(intake.label_names)}
    columns = encode(tokenizer, intake.splits["train"].texts, None, intake.splits["train"].labels, spec, index, {})
    assert columns["labels"] == [[0.0, 1.0, 1.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [1.0, 0.0, 1.0],
                                 [0.0, 1.0, 0.0]]
    assert len(columns["input_ids"]) == 6
    rows = [("common", "rare"), ("common",), ("common",), (), ("rare",)]
    assert strata(rows, "multi_label") == ["rare", "common", "common", "(none)", "rare"]


def test_snapshot_ids_and_monitor_follow_the_task(tmp_path):
    spec = spec_of(tmp_path, TAGS)
    other = spec_of(tmp_path, TAGS, threshold=0.3)
    assert snapshot_id(spec, "tok") != snapshot_id(other, "tok")
    check_monitor("val_micro_f1", "max", task="multi_label")
    check_monitor("val_subset_accuracy", "max", "maximize", task="multi_label")
    with pytest.raises(ConfigError, match="trainer.monitor is 'val_accuracy', but task multi_label logs: val_loss, "
                                          "val_micro_f1, val_macro_f1, val_subset_accuracy"):
        check_monitor("val_accuracy", "max", task="multi_label")


def random_rows(seed: int, rows: int = 200, labels: int = 5) -> tuple[list[list[int]], list[list[int]]]:
    rng = random.Random(seed)
    truth = [[int(rng.random() < 0.3) for _ in range(labels)] for _ in range(rows)]
    guess = [[y if rng.random() < 0.7 else 1 - y for y in row] for row in truth]
    for row in truth:  # a label with no true rows (its F1 stays out of the macro mean)
        row[4] = 0
    return guess, truth


def test_metrics_match_scikit_learn():
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    names = ["a", "b", "c", "d", "never"]
    for seed in range(3):
        predicted, actual = random_rows(seed)
        metrics, per_label = multi_label_report(predicted, actual, names)
        assert metrics["micro_f1"] == pytest.approx(sklearn_metrics.f1_score(actual, predicted, average="micro"))
        assert metrics["macro_f1"] == pytest.approx(
            sklearn_metrics.f1_score(actual, predicted, average="macro", labels=[0, 1, 2, 3]))
        assert metrics["subset_accuracy"] == metrics["accuracy"] == pytest.approx(
            sklearn_metrics.accuracy_score(actual, predicted))
        precision, recall, f1, support = sklearn_metrics.precision_recall_fscore_support(actual, predicted, zero_division=0)
        for i, scores in enumerate(per_label[:4]):
            assert (scores.precision, scores.recall, scores.f1) == pytest.approx((precision[i], recall[i], f1[i]))
            assert scores.support == support[i]
        assert per_label[4].support == 0 and per_label[4].recall is None and per_label[4].f1 == 0.0


def test_hand_computed_metrics_and_an_empty_row():
    # rows: {a} vs {a}; {a,b} vs {a}; {} vs {}; {b} vs {a}
    metrics, per_label = multi_label_report([[1, 0], [1, 1], [0, 0], [0, 1]], [[1, 0], [1, 0], [0, 0], [1, 0]], ["a", "b"])
    # a: tp 2, fn 1, fp 0 -> F1 4/5; b: tp 0, fp 2, support 0 -> left out of macro
    assert metrics["micro_f1"] == pytest.approx(4 / 7)
    assert metrics["macro_f1"] == pytest.approx(0.8)
    assert metrics["subset_accuracy"] == 0.5
    assert per_label[1].precision == 0.0 and per_label[1].support == 0


def test_device_counts_agree_with_the_list_report():
    torch = pytest.importorskip("torch")
    predicted, actual = random_rows(5)
    names = list("abcde")
    halves = [count_batch(torch.tensor(predicted[s]).bool(), torch.tensor(actual[s]).float())
              for s in (slice(0, 77), slice(77, None))]
    on_device, _ = report_from_counts((halves[0] + halves[1]).tolist(), names)
    assert on_device == pytest.approx(multi_label_report(predicted, actual, names)[0])


def test_predict_joins_the_labels_above_the_threshold():
    names = ["anger", "joy", "sadness"]
    assert chosen([0.9, 0.6, 0.1], names, 0.5, ";", "(none)") == ("anger;joy", 0.6)
    assert chosen([0.2, 0.4, 0.1], names, 0.5, ";", "(none)") == ("(none)", 0.4)
    assert chosen([0.2, 0.4, 0.1], names, 0.3, "|", "(none)") == ("joy", 0.4)


def test_a_single_run_report_draws_f1_per_label_and_no_confusion_matrix(tmp_path):
    pytest.importorskip("plotly")
    from runner.report import sections
    from workflows.payloads.messages import ClassMetrics, TrainResult
    from workflows.payloads.runs import TrainEvalResult

    per_label = [ClassMetrics("anger", 0.5, 0.25, 1 / 3, 4), ClassMetrics("joy", 0.8, 0.8, 0.8, 10),
                 ClassMetrics("fear", None, None, None, 0)]
    train = TrainResult(best_checkpoint=str(tmp_path / "best.ckpt"), last_checkpoint="", global_step=10,
                        resumed_from_step=0, attempt=1, best_score=0.5, monitor="val_micro_f1", steps_this_attempt=10)
    result = TrainEvalResult(metrics={"micro_f1": 0.6, "threshold": 0.5}, best_checkpoint=train.best_checkpoint,
                             dataset_snapshot_id="s", config_hash="c", train=train, label_names=["anger", "joy", "fear"],
                             per_class=per_label, task="multi_label")
    parts, figures = sections(result, {"trainer": {"monitor": "val_micro_f1"}})
    assert "confusion_matrix" not in figures and "Per class (test)" in "".join(parts)
    bars = figures["per_label_f1"].data[0]
    assert list(bars.y) == ["anger", "joy", "fear"] and list(bars.x) == [1 / 3, 0.8, None]
    assert bars.text[2] == "- (support 0)"
