"""Load tokenizers and classification models (a sequence classifier, or a token classifier for
task=token_classification): real `from_pretrained` loading, or a random initialisation from a
transformers config with a real tokenizer's vocabulary."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

from workflows.payloads.choices import ATTN_IMPLEMENTATIONS, MODEL_INITS
from workflows.payloads.errors import ConfigError
from workflows.payloads.specs import ModelSpec

TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json")
log = logging.getLogger(__name__)


def check_model_spec(spec: ModelSpec) -> None:
    """Fail fast on a model that cannot load: unknown init, or a local path that does not exist."""
    if spec.init not in MODEL_INITS:
        raise ConfigError(f"model.init is '{spec.init}', but must be one of: {', '.join(MODEL_INITS)}")
    if spec.init == "pretrained" and not spec.name_or_path:
        raise ConfigError("model.name_or_path is empty, but init 'pretrained' needs a hub name or a folder")
    if spec.init == "config" and "model_type" not in spec.architecture:
        raise ConfigError(
            f"model.architecture is {dict(spec.architecture)}, but init 'config' needs at least model_type"
        )
    for key in ("name_or_path", "tokenizer"):
        value = getattr(spec, key)
        if value and _looks_local(value) and not Path(value).expanduser().is_dir():
            raise ConfigError(f"model.{key} is '{value}', but no such folder exists")
    if spec.attn_implementation not in ATTN_IMPLEMENTATIONS:
        raise ConfigError(f"model.attn_implementation is '{spec.attn_implementation}', but must be one of: "
                          f"{', '.join(repr(a) for a in ATTN_IMPLEMENTATIONS)} (empty: transformers' default)")
    if spec.dropout is not None and not 0.0 <= spec.dropout < 1.0:
        raise ConfigError(f"model.dropout is {spec.dropout}, but must be in [0, 1)")


def _looks_local(name: str) -> bool:
    """Hub names look like 'org/name' or 'name'; anything path-like (or existing) is a local folder."""
    return name.startswith(("/", ".", "~")) or Path(name).expanduser().exists()


def tokenizer_source(spec: ModelSpec) -> str:
    return spec.tokenizer or spec.name_or_path


def tokenizer_fingerprint(source: str) -> str:
    """sha256 over the tokenizer's files for a local folder, or the hub name itself."""
    digest = hashlib.sha256(source.encode() if not _looks_local(source) else b"local")
    if _looks_local(source):
        folder = Path(source).expanduser()
        for name in TOKENIZER_FILES:
            if (folder / name).is_file():
                digest.update(name.encode())
                digest.update((folder / name).read_bytes())
    return digest.hexdigest()


def load_tokenizer(source: str):
    from transformers import AutoTokenizer  # transformers only when a model loads: the runner imports this module to check specs

    return AutoTokenizer.from_pretrained(source)


PROBLEM_TYPES = {"sequence_classification": "single_label_classification",
                 "pair_classification": "single_label_classification", "regression": "regression",
                 "multi_label": "multi_label_classification", "token_classification": "single_label_classification"}
"""transformers' `problem_type` (which loss the model computes) of each task."""
HEADS = {"token_classification": "TokenClassification"}
"""The transformers head of each task whose head is not a sequence classifier's (`AutoModelFor{head}`)."""


def head_of(task: str) -> str:
    """The head's name in transformers' class names: SequenceClassification or TokenClassification."""
    return HEADS.get(task, "SequenceClassification")


def auto_model_class(task: str):
    """transformers' `AutoModelFor...` class of a task's head."""
    import transformers  # only when a model loads: the runner imports this module to check specs

    return getattr(transformers, f"AutoModelFor{head_of(task)}")


def load_classifier(spec: ModelSpec, num_labels: int, label_names: list[str], task: str = "sequence_classification"):
    """Build the task's model in train mode (`task` regression: one output, MSE loss; token_classification:
    `AutoModelForTokenClassification`, a class per sub-token).

    `from_pretrained` returns a model in eval mode (dropout off); training needs `model.train()`. The
    random initialisation draws under `RNG_LOCK`, so it cannot shift a training running beside it.
    """
    # transformers and torch (`engine.rng`) only when a model loads: the runner imports this module to check specs
    from transformers import AutoConfig
    from transformers.utils import logging as transformers_logging

    from activities.engine.rng import RNG_LOCK

    transformers_logging.disable_progress_bar()  # its "Loading weights" bar: the run shows its own progress

    id2label = dict(enumerate(label_names))
    label2id = {name: i for i, name in enumerate(label_names)}
    head: dict[str, Any] = {"num_labels": num_labels, "id2label": id2label, "label2id": label2id,
                            "problem_type": PROBLEM_TYPES[task]}
    dropout: dict[str, Any] = {}  # extra from_pretrained keywords (Any: transformers types each keyword)
    if spec.dropout is not None:
        dropout = {"hidden_dropout_prob": spec.dropout, "attention_probs_dropout_prob": spec.dropout}
    attention: dict[str, Any] = {"attn_implementation": spec.attn_implementation} if spec.attn_implementation else {}
    if spec.init == "config":
        arch = dict(spec.architecture)
        model_type = str(arch.pop("model_type"))
        tokenizer = load_tokenizer(tokenizer_source(spec))
        arch.setdefault("vocab_size", len(tokenizer))
        arch.setdefault("pad_token_id", tokenizer.pad_token_id)
        try:
            config = AutoConfig.for_model(model_type, **head, **arch, **dropout)
            with RNG_LOCK:
                model = auto_model_class(task).from_config(config, **attention)
        except (ValueError, TypeError, KeyError) as error:  # an architecture transformers refuses
            raise ConfigError(f"model.architecture is {dict(spec.architecture)}, which transformers refuses: {error}") from error
    else:
        mismatched = spec.ignore_mismatched_sizes or _head_mismatch(spec.name_or_path, num_labels, task)
        try:
            with RNG_LOCK:  # a new classification head is initialised at random
                model = auto_model_class(task).from_pretrained(
                    spec.name_or_path, **head, ignore_mismatched_sizes=mismatched, **dropout, **attention
                )
        except Exception as error:
            if not Path(spec.name_or_path).expanduser().exists():
                raise  # a hub name: the hub may be unreachable for a while, so Temporal retries
            raise ConfigError(f"model.name_or_path is '{spec.name_or_path}', but transformers cannot load it: "
                              f"{str(error).splitlines()[0] if str(error) else type(error).__name__}") from error
    model.train()
    return model


def _head_mismatch(name_or_path: str, num_labels: int, task: str = "sequence_classification") -> bool:
    """Whether `name_or_path` holds the task's head (sequence or token classification) for another number
    of labels: then its head cannot take the dataset's classes and is initialised afresh (said in the
    worker log)."""
    from transformers import AutoConfig  # transformers only when a model loads: the runner imports this module to check specs

    try:
        config = AutoConfig.from_pretrained(name_or_path)
    except Exception:  # noqa: BLE001 - from_pretrained itself reports a folder it cannot read
        return False
    has_head = any(str(a).endswith(f"For{head_of(task)}") for a in (config.architectures or []))
    if not has_head or config.num_labels == num_labels:
        return False
    log.warning("model.name_or_path '%s' has a classification head for %d labels, but the dataset has %d: "
                "loading it with ignore_mismatched_sizes (the head is initialised afresh)",
                name_or_path, config.num_labels, num_labels)
    return True
