"""Tasks at intake: a regression label column and a pair's two texts, read right or refused at resolve time
naming the file, the row and the task that fits (`activities.targets`, `activities.data_sources`)."""

from __future__ import annotations

import json
import math

import pytest

from activities.data_sources import check_dataset_spec, load_splits
from activities.encode import strata
from activities.regression_metrics import ranks, regression_report
from activities.snapshot import snapshot_id
from activities.targets import as_number
from workflows.payloads.errors import ConfigError
from workflows.payloads.specs import DatasetSpec, TaskSpec


def csv_spec(tmp_path, rows: list[str], task: str = "regression", header: str = "text,label", **extra) -> DatasetSpec:
    path = tmp_path / "train.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    return DatasetSpec(name="csv", source="files", format="csv", data_files={"train": str(path)},
                       task=TaskSpec(name=task), **extra)


SCORES = [f"text number {i},{v}" for i, v in enumerate([0.5, -1.25, 2, 3.75, "1e-1", " 4 ", -0.5, 1.5, 2.5, 0])]


def test_regression_reads_floats_and_records_the_training_stats(tmp_path):
    intake = load_splits(csv_spec(tmp_path, SCORES))
    values = [0.5, -1.25, 2.0, 3.75, 0.1, 4.0, -0.5, 1.5, 2.5, 0.0]
    assert intake.splits["train"].labels == values
    assert intake.label_names == ["label"]
    mean = sum(values) / len(values)
    assert intake.label_stats["mean"] == pytest.approx(mean)
    assert intake.label_stats["std"] == pytest.approx(math.sqrt(sum((v - mean) ** 2 for v in values) / len(values)))


@pytest.mark.parametrize("bad, fragment", [
    ("positive", "holds 'positive' at line 4, which is not a number; the column looks like class labels: "
                 "use task=sequence_classification"),
    ("", "has no label in 1 row(s) (line 4)"),
    ("inf", "holds an infinite number at line 4"),
])
def test_regression_refuses_what_is_not_a_number_naming_the_row(tmp_path, bad, fragment):
    rows = list(SCORES)
    rows[2] = f"a text,{bad}"
    with pytest.raises(ConfigError) as caught:
        check_dataset_spec(csv_spec(tmp_path, rows))
    assert "dataset.label_column is 'label' with task regression" in str(caught.value)
    assert fragment in str(caught.value)


def test_regression_refuses_a_constant_label_and_a_list_label(tmp_path):
    with pytest.raises(ConfigError, match="every label of train file .* is 3; a regression needs labels that vary"):
        check_dataset_spec(csv_spec(tmp_path, [f"t{i},3" for i in range(5)]))
    path = tmp_path / "train.jsonl"
    path.write_text("\n".join(json.dumps({"text": f"t{i}", "label": [1, 2] if i == 1 else i}) for i in range(5)))
    spec = DatasetSpec(name="json", source="files", format="json", data_files={"train": str(path)},
                       task=TaskSpec(name="regression"))
    with pytest.raises(ConfigError, match=r"holds a list \[1, 2\] at line 2, .*looks like multi-label data"):
        check_dataset_spec(spec)


def test_a_float_column_for_classification_now_names_task_regression(tmp_path):
    with pytest.raises(ConfigError, match="look like a regression target, not classes: use task=regression"):
        check_dataset_spec(csv_spec(tmp_path, SCORES, task="sequence_classification"))


def test_pairs_read_both_texts_and_refuse_a_missing_second_text(tmp_path):
    rows = [f"headline {i},article {i},{'match' if i % 2 else 'mismatch'}" for i in range(6)]
    spec = csv_spec(tmp_path, rows, task="pair_classification", header="text,text_pair,label",
                    text_pair_column="text_pair")
    intake = load_splits(spec)
    assert intake.splits["train"].pairs == [f"article {i}" for i in range(6)]
    assert intake.label_names == ["match", "mismatch"]
    rows[3] = "headline 3,,match"
    with pytest.raises(ConfigError, match=r"has empty text \(column 'text' or 'text_pair'\) in 1 row\(s\) \(line 5\)"):
        check_dataset_spec(csv_spec(tmp_path, rows, task="pair_classification", header="text,text_pair,label",
                                    text_pair_column="text_pair"))


@pytest.mark.parametrize("task, extra, fragment", [
    ("pair_classification", {}, "dataset.text_pair_column is empty, but task pair_classification reads two texts"),
    ("regression", {"text_pair_column": "b"}, "dataset.text_pair_column is 'b', but task regression reads one text"),
    ("pair_classification", {"text_pair_column": "missing"}, "dataset.text_pair_column is 'missing', but train file"),
])
def test_task_settings_are_checked_before_reading_rows(tmp_path, task, extra, fragment):
    with pytest.raises(ConfigError) as caught:
        check_dataset_spec(csv_spec(tmp_path, ["a,b"], task=task, **extra))
    assert fragment in str(caught.value)


def test_text_folders_are_for_single_text_classification_only(tmp_path):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    spec = DatasetSpec(name="folders", source="text_folders", path=str(tmp_path), task=TaskSpec(name="regression"))
    with pytest.raises(ConfigError, match="task regression needs files with columns"):
        check_dataset_spec(spec)


def test_the_default_task_keeps_snapshot_ids_and_another_task_changes_them(tmp_path):
    spec = csv_spec(tmp_path, SCORES, task="sequence_classification")
    plain = DatasetSpec(**{k: v for k, v in spec.__dict__.items() if k != "task"})
    assert snapshot_id(spec, "tok") == snapshot_id(plain, "tok")
    assert snapshot_id(csv_spec(tmp_path, SCORES), "tok") != snapshot_id(spec, "tok")
    normalised = csv_spec(tmp_path, SCORES)
    normalised.task.normalize = True
    assert snapshot_id(normalised, "tok") != snapshot_id(csv_spec(tmp_path, SCORES), "tok")


def test_regression_strata_are_quintiles_so_carved_splits_span_the_range():
    labels = [float(i) for i in range(100)]
    bins = strata(labels, "regression")
    assert sorted(set(bins)) == ["0", "1", "2", "3", "4"]
    assert all(bins.count(b) == 20 for b in set(bins))
    assert strata(["a", "b"], "sequence_classification") == ["a", "b"]


def test_regression_metrics_match_their_definitions():
    actual, predicted = [1.0, 2.0, 3.0, 4.0], [1.5, 1.5, 3.5, 4.5]
    report = regression_report(predicted, actual)
    assert report["mse"] == pytest.approx(0.25)
    assert report["mae"] == pytest.approx(0.5)
    assert report["spearman"] == pytest.approx(0.9486832980505138)  # scipy.stats.spearmanr, ties averaged
    assert report["pearson"] == pytest.approx(0.9467292624062577)  # scipy.stats.pearsonr
    assert ranks([3.0, 1.0, 3.0]) == [2.5, 1.0, 2.5]
    assert regression_report([2.0] * 4, actual)["pearson"] == 0.0  # a constant predictor: no correlation


def test_numbers_as_read():
    assert as_number(" 2.5 ") == 2.5 and as_number(3) == 3.0 and as_number("NaN") is None and as_number(True) == "true"


def test_each_task_is_ranked_by_its_own_test_metric():
    from runner.coordinate import metric_columns
    from workflows.payloads.runs import leaderboard_metric

    assert leaderboard_metric({"accuracy": 0.9, "macro_f1": 0.8, "loss": 0.3}) == "accuracy"
    assert leaderboard_metric({"mse": 1.1, "pearson": 0.7, "loss": 0.5}) == "pearson"
    assert leaderboard_metric({}) == "accuracy"
    assert metric_columns([{"job": 0}, {"test_mse": 1.0, "test_pearson": 0.7, "test_loss": 0.4}]) == \
        ["test_pearson", "test_loss"]
    assert metric_columns([{"job": 0}]) == ["test_accuracy", "test_macro_f1", "test_loss"]
