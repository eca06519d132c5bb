"""The training options of issue 23 at resolve time (one-line errors naming key, value and what is valid;
a sweep's trial values checked the same way), the identities they leave alone at their defaults, and their
pure parts: class weights, layer-wise LR shares, the data position under gradient accumulation."""

from __future__ import annotations

import pytest

from activities.class_weights import class_weights_for, inverse_frequency
from activities.engine.epoch_sampler import data_position
from activities.snapshot import snapshot_id
from runner.resolve import resolve_run
from tests.conftest import compose_config
from workflows.ladder import steps_per_epoch
from workflows.payloads.errors import ConfigError
from workflows.payloads.messages import DatasetSnapshot
from workflows.payloads.specs import OptimSpec, TrainerSpec

BASE = ("model=bert_tiny", "dataset=bbc_news")


def resolved(tmp_path, *overrides):
    return resolve_run(compose_config(*BASE, f"run_root={tmp_path}", *overrides))[0]


@pytest.mark.parametrize(("override", "message"), [
    ("trainer.accumulate_grad_batches=0", "trainer.accumulate_grad_batches is 0, but must be a whole number >= 1"),
    ("trainer.early_stopping_patience=-1", "trainer.early_stopping_patience is -1, but must be a whole number >= 0"),
    ("trainer.early_stopping_min_delta=-0.1", "trainer.early_stopping_min_delta is -0.1, but must be >= 0"),
    ("model.freeze_steps=-2", "model.freeze_steps is -2, but must be a whole number >= 0"),
    ("optim.layer_decay=0", "optim.layer_decay is 0.0, but must be in (0, 1]"),
    ("optim.layer_decay=1.5", "optim.layer_decay is 1.5, but must be in (0, 1]"),
    ("trainer.class_weights=often", "trainer.class_weights is 'often', but must be none, auto or a list"),
    ("trainer.class_weights=[1,-1,1,1,1]", "each weight must be a finite number > 0"),
    ("trainer.class_weights=[1,2]", "trainer.class_weights is [1.0, 2.0] (2 weights), but dataset 'bbc_news' has 5 "
                                    "classes"),
])
def test_bad_values_are_refused_at_resolve_time(tmp_path, override, message):
    with pytest.raises(ConfigError) as error:
        resolved(tmp_path, override)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_truncation_side_is_checked_by_the_schema(tmp_path):
    from hydra.errors import ConfigCompositionException

    with pytest.raises(ConfigCompositionException, match="truncation_side"):
        resolved(tmp_path, "dataset.truncation_side=middle")


def test_good_values_resolve(tmp_path):
    run = resolved(tmp_path, "trainer.accumulate_grad_batches=2", "trainer.early_stopping_patience=3",
                   "trainer.class_weights=[1,1,2,1,1]", "optim.layer_decay=0.8", "model.freeze_steps=5",
                   "dataset.truncation_side=left")
    assert run.trainer.class_weights == [1.0, 1.0, 2.0, 1.0, 1.0] and run.dataset.truncation_side == "left"
    assert resolved(tmp_path, "trainer.class_weights=none").trainer.class_weights == []
    assert resolved(tmp_path, "trainer.class_weights=auto").trainer.class_weights == "auto"


def test_identity_changes_only_when_an_option_leaves_its_default(tmp_path):
    plain = resolved(tmp_path).config_hash
    assert resolved(tmp_path, "trainer.class_weights=none").config_hash == plain
    assert resolved(tmp_path, "trainer.accumulate_grad_batches=1", "optim.layer_decay=1.0").config_hash == plain
    for override in ("trainer.accumulate_grad_batches=2", "trainer.early_stopping_patience=2",
                     "trainer.early_stopping_min_delta=0.01", "trainer.class_weights=auto", "optim.layer_decay=0.9",
                     "model.freeze_steps=3", "dataset.truncation_side=left"):
        assert resolved(tmp_path, override).config_hash != plain, override


def test_snapshot_id_holds_the_truncation_side_only_when_left(tmp_path):
    run = resolved(tmp_path)
    right = snapshot_id(run.dataset, run.model.tokenizer)
    run.dataset.truncation_side = "left"
    assert snapshot_id(run.dataset, run.model.tokenizer) != right
    assert right == "4768723cf1b2bdaea1a2"  # the id bbc_news had before the key existed


def test_sweep_trial_values_are_checked(tmp_path):
    from runner.sweep_config import resolve_sweep

    def sweep(*overrides):
        run, plain = resolve_run(compose_config(*BASE, f"run_root={tmp_path}", "ladder=asha", *overrides))
        return resolve_sweep(run, plain)

    with pytest.raises(ConfigError, match=r"optim.layer_decay high=1.5: optim.layer_decay is 1.5, but must be in"):
        sweep("search_space.params=[{key: optim.layer_decay, type: float, low: 0.5, high: 1.5}]")
    with pytest.raises(ConfigError, match=r"accumulate_grad_batches low=0: trainer.accumulate_grad_batches is 0"):
        sweep("search_space.params=[{key: trainer.accumulate_grad_batches, type: int, low: 0, high: 4}]")
    with pytest.raises(ConfigError, match="ladder.unit 'epochs'"):
        sweep("ladder.unit=epochs", "ladder.rungs=[1,2]",
              "search_space.params=[{key: trainer.accumulate_grad_batches, type: int, low: 1, high: 4}]")
    ok = sweep("search_space.params=[{key: optim.layer_decay, type: float, low: 0.5, high: 1.0},"
               "{key: model.freeze_steps, type: int, low: 0, high: 20},"
               "{key: trainer.class_weights, type: categorical, choices: [none, auto]},"
               "{key: trainer.early_stopping_patience, type: int, low: 0, high: 3}]")
    assert len(ok.space) == 4


def test_pbt_refuses_early_stopping_and_a_layer_decay_reaching_one(tmp_path):
    from runner.sweep_config import resolve_sweep

    def pbt(*overrides):
        run, plain = resolve_run(compose_config(*BASE, f"run_root={tmp_path}", "ladder=pbt", *overrides))
        return resolve_sweep(run, plain)

    with pytest.raises(ConfigError, match="trainer.early_stopping_patience is 2 .* with ladder=pbt"):
        pbt("trainer.early_stopping_patience=2", "search_space=lr_warmup")
    with pytest.raises(ConfigError, match="optim.layer_decay reaches 1.0 with ladder=pbt"):
        pbt("search_space.params=[{key: optim.layer_decay, type: float, low: 0.5, high: 1.0}]")


def snapshot(counts: dict[str, int]) -> DatasetSnapshot:
    return DatasetSnapshot(id="s", uri="", label_names=list(counts), split_sizes={"train": sum(counts.values())},
                           pad_token_id=0, max_length=8, class_counts={"train": counts})


def test_auto_class_weights_are_inverse_frequency_with_mean_one():
    weights = class_weights_for("auto", snapshot({"a": 10, "b": 30, "c": 60}))
    assert weights == pytest.approx([3 / 1.5, 1 / 1.5, 0.5 / 1.5])
    assert sum(weights) / 3 == pytest.approx(1.0)
    assert inverse_frequency([5, 0, 5]) == [1.5, 0.0, 1.5]
    assert class_weights_for([], snapshot({"a": 1, "b": 1})) is None
    assert class_weights_for("none", snapshot({"a": 1, "b": 1})) is None
    assert class_weights_for([1, 2], snapshot({"a": 1, "b": 1})) == [1.0, 2.0]


def test_class_weights_that_do_not_fit_the_snapshot_are_refused():
    with pytest.raises(ConfigError, match=r"3 weights\), but the dataset has 2 classes \(a, b\)"):
        class_weights_for([1, 2, 3], snapshot({"a": 1, "b": 1}))
    old = DatasetSnapshot(id="old", uri="", label_names=["a", "b"], split_sizes={}, pad_token_id=0, max_length=8)
    with pytest.raises(ConfigError, match="snapshot old recorded no class counts"):
        class_weights_for("auto", old)


def test_layer_decay_gives_each_layer_its_share_of_the_lr():
    from transformers import BertConfig, BertForSequenceClassification

    from activities.engine.layer_decay import parameter_groups, wanted_settings

    model = BertForSequenceClassification(BertConfig(vocab_size=50, hidden_size=8, num_hidden_layers=2,
                                                     num_attention_heads=2, intermediate_size=16, num_labels=3))
    optim = OptimSpec(lr=1.0, layer_decay=0.5, weight_decay=0.1)
    groups = parameter_groups(model, optim)
    lr_of = {id(p): g["lr"] for g in groups for p in g["params"]}
    named = dict(model.named_parameters())
    assert lr_of[id(named["classifier.weight"])] == 1.0
    assert lr_of[id(named["bert.pooler.dense.weight"])] == 1.0
    # encoder layer L (0-based, of N = 2) at decay^(N - L)
    assert lr_of[id(named["bert.encoder.layer.1.attention.self.query.weight"])] == 0.5
    assert lr_of[id(named["bert.encoder.layer.0.attention.self.query.weight"])] == 0.25
    assert lr_of[id(named["bert.embeddings.word_embeddings.weight"])] == 0.125  # decay^(N + 1)
    assert sum(len(g["params"]) for g in groups) == len(named)
    decay_of = {id(p): g["weight_decay"] for g in groups for p in g["params"]}
    assert decay_of[id(named["bert.encoder.layer.0.output.LayerNorm.weight"])] == 0.0
    assert decay_of[id(named["bert.encoder.layer.0.output.dense.weight"])] == 0.1
    # a resume with another lr and decay (PBT's explore) keeps each group's place in the ladder of shares
    wanted = [wanted_settings(g, i, OptimSpec(lr=2.0, layer_decay=0.1)) for i, g in enumerate(groups)]
    assert sorted({w["lr"] for w in wanted}) == pytest.approx([2.0 * 0.1**3, 2.0 * 0.1**2, 2.0 * 0.1, 2.0])
    # at decay 1 the groups are the two of a plain AdamW, as checkpoints from before the option hold them
    plain = parameter_groups(model, OptimSpec(lr=1.0))
    assert [(g["lr"], g["weight_decay"] > 0) for g in plain] == [(1.0, True), (1.0, False)]
    assert set(plain[0]) == {"params", "lr", "betas", "eps", "weight_decay"}


def test_data_position_counts_accumulated_batches_and_short_last_steps():
    # 25 batches an epoch, 2 a step: 13 steps an epoch, the 13th one batch long
    assert steps_per_epoch(400, TrainerSpec(batch_size=16, accumulate_grad_batches=2)) == 13
    assert data_position(0, 25, 2) == (0, 0)
    assert data_position(10, 25, 2) == (0, 20)
    assert data_position(13, 25, 2) == (1, 0)
    assert data_position(20, 25, 2) == (1, 14)
    assert data_position(20, 25, 1) == (0, 20)
