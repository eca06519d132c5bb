"""Messy real files (tests/data/messy/): read right, or refused at resolve time with the file and the line.

`check_dataset_spec` is what the resolver runs before anything starts; `build_snapshot` reads the same
files through the same reader, so each case is checked on both paths where it matters."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from activities.data_sources import check_dataset_spec, load_splits
from activities.splits import allocate, stratified_indices
from activities.tabular import first_bad_byte
from workflows.payloads.errors import ConfigError
from workflows.payloads.specs import DatasetSpec

MESSY = Path(__file__).parents[1] / "data" / "messy"
CLASSES = ["business", "entertainment", "politics", "sports", "tech"]


def files(train: str, fmt: str = "csv", **overrides) -> DatasetSpec:
    data_files = {"train": str(MESSY / train), **{k: str(MESSY / v) for k, v in overrides.pop("data_files", {}).items()}}
    return DatasetSpec(name=fmt, source="files", format=fmt, data_files=data_files, **overrides)


def test_excel_bom_header_is_read_as_utf8():
    spec = files("excel_bom.csv", text_column="review", label_column="sentiment")
    assert check_dataset_spec(spec) == []
    intake = load_splits(spec)
    assert intake.label_names == CLASSES
    assert intake.splits["train"].texts[0] == "Ad sales boost Time Warner profit"


def test_a_latin1_file_names_the_byte_and_the_option():
    with pytest.raises(ConfigError) as caught:
        check_dataset_spec(files("latin1.csv"))
    message = str(caught.value)
    offset, line = first_bad_byte(MESSY / "latin1.csv", "utf-8")
    assert offset > 0 and line == 2
    assert f"latin1.csv' is not valid utf-8 at byte {offset} (line 2)" in message
    assert "dataset.encoding" in message and "\n" not in message


def test_a_latin1_file_reads_with_its_encoding():
    intake = load_splits(files("latin1.csv", encoding="latin-1"))
    assert intake.splits["train"].texts[0] == "Shares rose 5p to 120p, valuing the café chain at £2bn"


def test_an_unknown_encoding_is_refused():
    with pytest.raises(ConfigError, match="dataset.encoding is 'utf-9', but Python knows no such codec"):
        check_dataset_spec(files("excel_bom.csv", encoding="utf-9", text_column="review", label_column="sentiment"))


def test_empty_text_cells_are_named_at_resolve_time():
    with pytest.raises(ConfigError) as caught:
        check_dataset_spec(files("empty_text.csv"))
    message = str(caught.value)
    assert "has empty text in 2 row(s) (line 5, line 10)" in message and "dataset.on_empty_text=drop" in message


def test_empty_text_cells_can_be_dropped_and_say_so():
    spec = files("empty_text.csv", on_empty_text="drop")
    notes = check_dataset_spec(spec)
    assert any("dropped 2 row(s) with empty text (line 5, line 10)" in note for note in notes)
    intake = load_splits(spec)
    assert len(intake.splits["train"].texts) == 38 and all(t.strip() for t in intake.splits["train"].texts)


def test_a_ragged_row_names_the_file_and_line():
    with pytest.raises(ConfigError, match=r"ragged.csv' line 7 has 3 fields, but the header has 2"):
        check_dataset_spec(files("ragged.csv"))


def test_a_broken_json_line_names_the_file_and_line():
    with pytest.raises(ConfigError, match=r"broken.jsonl' line 4 is not valid json"):
        check_dataset_spec(files("broken.jsonl", fmt="json"))


@pytest.mark.parametrize("name", ["empty.csv", "header_only.csv"])
def test_files_without_rows_say_so(name):
    with pytest.raises(ConfigError, match=rf"{name}' has no rows"):
        check_dataset_spec(files(name))


def test_quoted_newlines_stay_inside_the_text():
    intake = load_splits(files("quoted_newlines.csv"))
    texts = intake.splits["train"].texts
    assert len(texts) == 40
    assert texts[0] == 'Ad sales boost Time Warner profit\nSecond line, with a comma and "quotes".'


def test_integer_labels_are_mapped_to_label_names():
    intake = load_splits(files("int_labels.csv", label_names=CLASSES))
    assert intake.label_names == CLASSES
    assert intake.splits["train"].labels[:5] == CLASSES


def test_integer_labels_outside_label_names_are_refused():
    with pytest.raises(ConfigError, match=r"label_names has 4 names .* has integer label 4; .* must be in 0..3"):
        check_dataset_spec(files("int_labels.csv", label_names=CLASSES[:4]))


def test_string_labels_keep_their_names_end_to_end():
    intake = load_splits(files("typo_class.csv", label_names=[*CLASSES, "sprots"]))
    assert "sprots" in intake.splits["train"].labels and intake.label_names[-1] == "sprots"


def test_a_one_row_class_is_named_in_a_warning():
    notes = check_dataset_spec(files("typo_class.csv"))
    assert any("'sprots' (1 row)" in note for note in notes), notes


def test_a_validation_label_the_training_split_lacks_is_refused():
    spec = files("train_without_tech.csv", data_files={"validation": "validation_with_tech.csv"})
    with pytest.raises(ConfigError, match=r"validation file .* has label 'tech' \(line 6\), which the training split lacks"):
        check_dataset_spec(spec)


def test_float_labels_are_not_turned_into_classes():
    with pytest.raises(ConfigError, match=r"holds non-integer numbers \(line 3: 0.37\).*regression"):
        check_dataset_spec(files("float_labels.csv", label_column="score"))


@pytest.mark.parametrize("name, fmt, column", [("multi_labels.csv", "csv", "tags"), ("multi_labels.jsonl", "json", "label")])
def test_several_labels_per_row_are_not_turned_into_classes(name, fmt, column):
    with pytest.raises(ConfigError, match="several labels .*multi-label"):
        check_dataset_spec(files(name, fmt=fmt, label_column=column))


def test_parquet_with_missing_labels_names_the_rows(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "train.parquet"
    pq.write_table(pa.table({"text": [f"headline {i}" for i in range(6)], "label": ["a", "b", None, "a", "b", None]}),
                   path)
    spec = DatasetSpec(name="parquet", source="files", format="parquet", data_files={"train": str(path)})
    with pytest.raises(ConfigError, match=r"has no label in 2 row\(s\) \(row 3, row 6\)"):
        check_dataset_spec(spec)


def test_json_array_with_nan_text(tmp_path):
    path = tmp_path / "train.json"
    path.write_text(json.dumps([{"text": "good film", "label": 1}, {"text": None, "label": 0},
                                {"text": "bad film", "label": 0}]))
    spec = DatasetSpec(name="json", source="files", format="json", data_files={"train": str(path)})
    with pytest.raises(ConfigError, match=r"empty text in 1 row\(s\) \(row 2\)"):
        check_dataset_spec(spec)


def test_a_file_of_millions_of_rows_is_checked_without_loading_it(tmp_path):
    """The check streams: its memory does not grow with the rows (tracemalloc peak, 200k vs 20k rows)."""
    import tracemalloc

    def peak(rows: int) -> int:
        path = tmp_path / f"train{rows}.csv"
        with path.open("w") as f:
            f.write("text,label\n")
            for i in range(rows):
                f.write(f"headline number {i} about markets and films,{('a', 'b', 'c')[i % 3]}\n")
        tracemalloc.start()
        check_dataset_spec(DatasetSpec(name="csv", source="files", format="csv", data_files={"train": str(path)}))
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    small, large = peak(20_000), peak(200_000)
    assert large < small * 2 + 1_000_000, (small, large)


def test_largest_remainder_keeps_the_total_and_the_proportions():
    assert allocate([50, 30, 20], 10) == [5, 3, 2]
    assert sum(allocate([511, 510, 417, 401, 386], 222)) == 222


def test_carved_splits_are_stratified_and_a_rare_class_appears_in_each():
    labels = ["common"] * 95 + ["rare"] * 3 + ["single"] * 2
    carved = stratified_indices(labels, {"test": 0.1, "validation": 0.1}, seed=0)
    by_split = {split: Counter(labels[i] for i in rows) for split, rows in carved.items()}
    assert by_split["test"]["rare"] == by_split["validation"]["rare"] == by_split["train"]["rare"] == 1
    assert by_split["test"]["single"] == 1 and by_split["train"]["single"] == 1
    assert sum(len(rows) for rows in carved.values()) == 100
    assert len(carved["test"]) == len(carved["validation"]) == 10
    assert sorted(i for rows in carved.values() for i in rows) == list(range(100))
    assert stratified_indices(labels, {"test": 0.1, "validation": 0.1}, seed=0) == carved


def test_hub_class_label_columns_keep_their_names(monkeypatch):
    """A hub dataset's ClassLabel feature names the integer labels (as ag_news' does); no network: the
    DatasetDict is built here and handed to the reader in place of the download."""
    import datasets

    features = datasets.Features({"text": datasets.Value("string"),
                                  "label": datasets.ClassLabel(names=["world", "sports", "business"])})
    rows = {"text": [f"headline {i}" for i in range(9)], "label": [i % 3 for i in range(9)]}
    loaded = datasets.DatasetDict({"train": datasets.Dataset.from_dict(rows, features=features),
                                   "test": datasets.Dataset.from_dict(rows, features=features)})
    monkeypatch.setattr(datasets, "load_dataset", lambda *args, **kwargs: loaded)
    intake = load_splits(DatasetSpec(name="hub", source="hub", path="ag_news_like"))
    assert intake.label_names == ["world", "sports", "business"]
    assert intake.splits["test"].labels[:3] == ["world", "sports", "business"]


def test_an_edited_data_file_gives_another_run_identity(tmp_path):
    """A repeated command attaches to the run of its identity; after the data file changed, it is not
    the same run (the identity covers the file's bytes, not only its path)."""
    from runner.resolve import resolve_run
    from tests.conftest import compose_config

    train = tmp_path / "train.csv"
    train.write_text((MESSY / "int_labels.csv").read_text())
    args = ("dataset=csv", f"dataset.data_files.train={train}", "model=bert_tiny", f"run_root={tmp_path / 'runs'}")
    first, _ = resolve_run(compose_config(*args))
    again, _ = resolve_run(compose_config(*args))
    train.write_text(train.read_text().replace(",3\n", ",2\n", 1))
    edited, _ = resolve_run(compose_config(*args))
    assert first.config_hash == again.config_hash != edited.config_hash
