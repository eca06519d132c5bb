"""Token classification (NER) without a server: reading words and tags (errors name the file and the row),
word tags onto sub-tokens with a real fast tokenizer, entity-level scores against seqeval and hand-counted
examples, padding of token labels, strata of carved splits, and entities with character spans."""

from __future__ import annotations

import json

import pytest

from activities.data_sources import check_dataset_spec, load_splits
from activities.encode import encode, strata
from activities.ner.align import TRUNCATED, align, continuations
from activities.ner.predict import _prediction, describe
from activities.ner.spans import IGNORED, entities, entity_scores, tagging_report
from workflows.payloads.errors import ConfigError
from workflows.payloads.specs import DatasetSpec, TaskSpec

ROWS = [
    {"tokens": ["John", "Smith", "lives", "in", "Paris"], "tags": ["B-PER", "I-PER", "O", "O", "B-LOC"]},
    {"tokens": ["Acme", "hired", "Mary"], "tags": ["B-ORG", "O", "B-PER"]},
    {"tokens": ["nothing", "here"], "tags": ["O", "O"]},
    {"tokens": ["Berlin", "and", "Rome"], "tags": ["B-LOC", "O", "B-LOC"]},
]


def jsonl_spec(tmp_path, rows: list[dict], other: list[dict] | None = None, **extra) -> DatasetSpec:
    files = {}
    for split, content in (("train", rows), ("validation", other)):
        if content is not None:
            path = tmp_path / f"{split}.jsonl"
            path.write_text("".join(json.dumps(row) + "\n" for row in content))
            files[split] = str(path)
    return DatasetSpec(name="ner", source="files", format="json", data_files=files, text_column="tokens",
                       label_column="tags", task=TaskSpec(name="token_classification"), **extra)


def test_words_and_tags_are_read_with_sorted_tag_names(tmp_path):
    intake = load_splits(jsonl_spec(tmp_path, ROWS))
    assert intake.label_names == ["B-LOC", "B-ORG", "B-PER", "I-PER", "O"]
    assert intake.splits["train"].texts[0] == ["John", "Smith", "lives", "in", "Paris"]
    assert intake.splits["train"].labels[1] == ["B-ORG", "O", "B-PER"]


def test_integer_tags_index_label_names_and_a_csv_cell_may_hold_a_json_list(tmp_path):
    names = ["O", "B-PER", "I-PER"]
    rows = [{"tokens": ["Ann", "Lee", "ran"], "tags": [1, 2, 0]}, {"tokens": ["Bo", "sat"], "tags": [1, 0]}]
    assert load_splits(jsonl_spec(tmp_path, rows, label_names=names)).splits["train"].labels == \
        [["B-PER", "I-PER", "O"], ["B-PER", "O"]]
    path = tmp_path / "train.csv"
    path.write_text('tokens,tags\n"[""Ann"", ""ran""]","[""B-PER"", ""O""]"\n"[""Bo""]","[""B-PER""]"\n')
    spec = DatasetSpec(name="csv", source="files", format="csv", data_files={"train": str(path)},
                       text_column="tokens", label_column="tags", task=TaskSpec(name="token_classification"))
    assert load_splits(spec).splits["train"].texts == [["Ann", "ran"], ["Bo"]]


@pytest.mark.parametrize("row, fragment", [
    ({"tokens": ["a", "b"], "tags": ["O"]}, "validation file '{v}' line 2 has 2 words and 1 tags; give one tag per word"),
    ({"tokens": "a plain sentence", "tags": ["O"]},
     "validation file '{v}' line 2 holds a text ('a plain sentence'), not a list of words; for one label per text "
     "use task=sequence_classification"),
    ({"tokens": ["a"], "tags": "O"}, "validation file '{v}' line 2 holds 'O', not a list of tags (one per word)"),
    ({"tokens": ["a", " "], "tags": ["O", "O"]}, "validation file '{v}' line 2 word 2 is ' '; every word must be"),
    ({"tokens": ["a"], "tags": [None]}, "validation file '{v}' has no label in 1 row(s) (line 2 word 1)"),
    ({"tokens": ["a"], "tags": ["B-MISC"]},
     "validation file '{v}' has label 'B-MISC' (line 2 word 1), which the training split lacks"),
])
def test_bad_rows_are_one_line_naming_the_file_and_row(tmp_path, row, fragment):
    spec = jsonl_spec(tmp_path, ROWS, other=[ROWS[0], row])
    with pytest.raises(ConfigError) as caught:
        check_dataset_spec(spec)
    message = str(caught.value)
    assert "\n" not in message and fragment.format(v=spec.data_files["validation"]) in message, message


def test_tags_must_be_bio_and_an_i_tag_without_b_is_accepted(tmp_path):
    rows = [{"tokens": ["Ann", "ran"], "tags": ["PER", "O"]}, {"tokens": ["Bo"], "tags": ["O"]}]
    with pytest.raises(ConfigError, match=r"tag 'PER' \(train file .* line 1 word 1\) is not a BIO tag; tags must "
                                          r"be O, B-TYPE or I-TYPE"):
        check_dataset_spec(jsonl_spec(tmp_path, rows))
    lenient = [{"tokens": ["Ann", "ran"], "tags": ["I-PER", "O"]}, {"tokens": ["Bo"], "tags": ["O"]}]
    check_dataset_spec(jsonl_spec(tmp_path, lenient))  # no error
    assert entities(["I-PER", "O", "O", "I-LOC", "I-LOC"]) == [("PER", 0, 0), ("LOC", 3, 4)]


def test_empty_rows_follow_on_empty_text(tmp_path):
    rows = [*ROWS, {"tokens": [], "tags": []}]
    with pytest.raises(ConfigError, match=r"has no words in 1 row\(s\) \(line 5\); fill them in, or set "
                                          r"dataset.on_empty_text=drop"):
        check_dataset_spec(jsonl_spec(tmp_path, rows))
    notes = check_dataset_spec(jsonl_spec(tmp_path, rows, on_empty_text="drop"))
    assert any("dropped 1 row(s) with no words (line 5)" in note for note in notes)


def test_first_sub_token_carries_the_tag_or_every_sub_token_with_label_all_tokens():
    names = ["B-PER", "I-PER", "O"]
    word_ids = [None, 0, 0, 0, 1, 2, 2, None]
    tags = [0, 1, 2]
    assert align(word_ids, tags, False, continuations(names)) == [IGNORED, 0, IGNORED, IGNORED, 1, 2, IGNORED, IGNORED]
    assert align(word_ids, tags, True, continuations(names)) == [IGNORED, 0, 1, 1, 1, 2, 2, IGNORED]
    assert continuations(["B-LOC", "B-PER", "I-PER", "O"]) == [0, 2, 2, 3]  # no I-LOC: B-LOC stays


def test_encode_aligns_with_a_real_fast_tokenizer_and_counts_truncated_words():
    from activities.models import load_tokenizer
    from runner.config_schema import register_configs  # noqa: F401 - the pkg_dir resolver
    from tests.conftest import compose_config

    tokenizer = load_tokenizer(compose_config("model=minilm_l6").model.name_or_path)
    names = ["B-PER", "I-PER", "O"]
    spec = DatasetSpec(name="x", source="files", max_length=8, task=TaskSpec(name="token_classification"))
    words = [["Johnathan", "Smithson", "sleeps"], ["a", "b", "c", "d", "e", "f", "g", "h"]]
    tags = [["B-PER", "I-PER", "O"], ["O"] * 8]
    columns = encode(tokenizer, words, None, tags, spec, {n: i for i, n in enumerate(names)}, {})
    encoded = tokenizer(words[0], is_split_into_words=True)
    firsts = [i for i, w in enumerate(encoded.word_ids()) if w is not None and w != encoded.word_ids()[i - 1]]
    labels = columns["labels"][0]
    assert [labels[i] for i in firsts] == [0, 1, 2]
    assert sum(label != IGNORED for label in labels) == 3 and len(labels) == len(columns["input_ids"][0])
    assert columns[TRUNCATED] == [0, 2]  # 8 words + [CLS] [SEP] in 8 positions: 2 words cut
    spec.task.label_all_tokens = True
    every = encode(tokenizer, words, None, tags, spec, {n: i for i, n in enumerate(names)}, {})["labels"][0]
    assert every[1:-1] == [0 if w == firsts[0] else {0: 1, 1: 1, 2: 2}[encoded.word_ids()[w]]
                           for w in range(1, len(every) - 1)]


def test_entity_scores_match_seqeval_and_a_hand_count():
    from seqeval.metrics import classification_report, f1_score, precision_score, recall_score

    actual = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O", "B-PER", "I-PER"], ["O", "I-LOC", "I-LOC"]]
    predicted = [["B-PER", "I-PER", "O", "O"], ["B-ORG", "O", "B-PER", "O"], ["O", "B-LOC", "I-LOC"]]
    metrics, per_type = entity_scores(predicted, actual)
    # true: PER(0-1) LOC(3) | ORG(0) PER(2-3) | LOC(1-2): 5; predicted: PER(0-1) | ORG(0) PER(2) | LOC(1-2): 4
    # hits: PER(0-1), ORG(0), LOC(1-2) = 3 -> precision 3/4, recall 3/5, F1 6/9
    assert metrics["precision"] == pytest.approx(3 / 4) and metrics["recall"] == pytest.approx(3 / 5)
    assert metrics["f1"] == pytest.approx(2 / 3)
    assert metrics["token_accuracy"] == pytest.approx(8 / 11)
    assert metrics["f1"] == pytest.approx(f1_score(actual, predicted))
    assert metrics["precision"] == pytest.approx(precision_score(actual, predicted))
    assert metrics["recall"] == pytest.approx(recall_score(actual, predicted))
    report = classification_report(actual, predicted, output_dict=True)
    for kind in per_type:
        assert (kind.precision, kind.recall, kind.f1, kind.support) == pytest.approx(
            tuple(report[kind.label][k] for k in ("precision", "recall", "f1-score", "support")))
    assert [k.label for k in per_type] == ["LOC", "ORG", "PER"]


def test_all_o_baseline_scores_zero_f1_and_padding_is_left_out():
    names = ["B-PER", "I-PER", "O"]
    actual = [[IGNORED, 0, 1, IGNORED, 2, IGNORED, IGNORED]]
    all_o = [[0, 2, 2, 0, 2, 0, 0]]  # guesses at ignored positions never count
    metrics, per_type = tagging_report(all_o, actual, names)
    assert metrics == {"f1": 0.0, "precision": 0.0, "recall": 0.0, "token_accuracy": pytest.approx(1 / 3)}
    assert [(k.label, k.precision, k.recall, k.f1, k.support) for k in per_type] == [("PER", None, 0.0, 0.0, 1)]
    assert tagging_report([[0, 0, 1, 2, 2, 0, 0]], actual, names)[0]["f1"] == 1.0


def test_carved_splits_are_stratified_by_the_most_frequent_entity_type():
    tags = [["B-PER", "O", "B-LOC", "B-LOC"], ["O", "O"], ["B-PER", "I-PER", "B-ORG"], ["I-LOC"]]
    assert strata(tags, "token_classification") == ["LOC", "O", "ORG", "LOC"]


def test_token_labels_are_padded_with_the_ignore_index():
    from activities.engine.data import PadCollate

    batch = PadCollate(0)([{"input_ids": [101, 5, 102], "labels": [IGNORED, 3, IGNORED]},
                           {"input_ids": [101, 102], "labels": [IGNORED, IGNORED]}])
    assert batch["labels"].tolist() == [[IGNORED, 3, IGNORED], [IGNORED, IGNORED, IGNORED]]


def test_entities_get_character_spans_of_their_words():
    text = "John  Smith went to New York"
    spans = [(0, 4), (6, 11), (12, 16), (17, 19), (20, 23), (24, 28)]
    found = _prediction(text, spans, ["B-PER", "I-PER", "O", "O", "B-LOC", "I-LOC"], [0.9, 0.7, 1, 1, 0.8, 0.6])
    assert describe(found.entities) == 'PER "John  Smith" [0:11]; LOC "New York" [20:28]' == found.label
    assert found.entities[0]["score"] == pytest.approx(0.8)
    assert _prediction("", [], [], []).label == "no entities"


def test_a_single_run_report_draws_f1_per_entity_type_instead_of_a_confusion_matrix(tmp_path):
    from runner.report import sections
    from workflows.payloads.messages import ClassMetrics, TrainResult
    from workflows.payloads.runs import TrainEvalResult

    train = TrainResult(best_checkpoint=str(tmp_path / "best.ckpt"), last_checkpoint="", global_step=40,
                        resumed_from_step=0, attempt=1, best_score=0.4, monitor="val_f1", steps_this_attempt=40)
    result = TrainEvalResult(
        metrics={"f1": 0.5, "precision": 0.6, "recall": 0.4, "token_accuracy": 0.9, "loss": 0.3},
        best_checkpoint=train.best_checkpoint, dataset_snapshot_id="s", config_hash="h", train=train,
        label_names=["B-LOC", "B-PER", "I-PER", "O"], task="token_classification",
        per_class=[ClassMetrics("LOC", 0.5, 0.25, 1 / 3, 4), ClassMetrics("PER", None, 0.0, 0.0, 2),
                   ClassMetrics("ORG", None, None, None, 0)])
    parts, figures = sections(result, {"trainer": {"monitor": "val_f1"}})
    assert "confusion_matrix" not in figures and "<h2>Per entity type (test)</h2>" in parts
    bars = figures["entity_f1"].data[0]
    assert list(bars.x) == ["LOC", "PER"] and list(bars.y) == pytest.approx([1 / 3, 0.0])
    assert list(bars.text) == ["0.33 (n=4)", "0.00 (n=2)"]


def test_a_list_of_words_under_sequence_classification_points_at_token_classification(tmp_path):
    spec = jsonl_spec(tmp_path, ROWS)
    spec.task = TaskSpec()
    spec.label_column = "tokens"  # any: the text column is read first
    spec.text_column = "tags"
    with pytest.raises(ConfigError, match=r"dataset.text_column is 'tags', but train file .* line 1 holds a list "
                                          r"\(of words\?\), not a text; for a tag per word use task=token_classification"):
        check_dataset_spec(spec)
