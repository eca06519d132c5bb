"""Class weights for a weighted cross-entropy (`trainer.class_weights`): none, one weight per class in label
order, or `auto`, the inverse class frequency of the training split normalised to mean 1. Pure (no torch):
the runner checks values with it, the training (`activities.engine.weighted_loss`) weights its loss by it."""

from __future__ import annotations

import math
from typing import Any

from workflows.payloads.choices import CLASS_WEIGHTS_AUTO, CLASS_WEIGHTS_OFF
from workflows.payloads.errors import ConfigError
from workflows.payloads.messages import DatasetSnapshot


def normalised_class_weights(value: Any) -> str | list[float]:
    """`trainer.class_weights` as the payload holds it: [] (unweighted: also null and "none"), "auto", or
    a list of finite floats > 0.

    Raises:
        ConfigError: any other value, naming it.
    """
    if value is None or (isinstance(value, str) and value.lower() in CLASS_WEIGHTS_OFF):
        return []
    if isinstance(value, str) and value.lower() == CLASS_WEIGHTS_AUTO:
        return CLASS_WEIGHTS_AUTO
    if isinstance(value, (list, tuple)):
        if not all(not isinstance(w, bool) and isinstance(w, (int, float)) and math.isfinite(w) and w > 0
                   for w in value):
            raise ConfigError(f"trainer.class_weights is {list(value)}, but each weight must be a finite number > 0")
        return [float(w) for w in value]
    raise ConfigError(f"trainer.class_weights is {value!r}, but must be none, auto or a list of weights, one per "
                      f"class in label order")


def inverse_frequency(counts: list[int]) -> list[float]:
    """Weights proportional to 1 / count, scaled to mean 1; a class without examples gets weight 0 (it never
    appears as a target, so its weight changes nothing)."""
    raw = [1.0 / c if c > 0 else 0.0 for c in counts]
    present = [w for w in raw if w > 0]
    scale = len(raw) / sum(present) if present else 1.0
    return [w * scale for w in raw]


def class_weights_for(value: Any, snapshot: DatasetSnapshot) -> list[float] | None:
    """The loss weight of each class of `snapshot` in label order, or None (unweighted).

    Raises:
        ConfigError: a list whose length is not the snapshot's class count, or `auto` for a snapshot that
            recorded no class counts (made before they were recorded).
    """
    weights = normalised_class_weights(value)
    names = snapshot.label_names
    if weights == CLASS_WEIGHTS_AUTO:
        train = snapshot.class_counts.get("train")
        if not train:
            raise ConfigError(f"trainer.class_weights is auto, but dataset snapshot {snapshot.id} recorded no class "
                              f"counts; give the weights as a list, one per class")
        return inverse_frequency([int(train.get(name, 0)) for name in names])
    if not weights:
        return None
    assert isinstance(weights, list)
    if len(weights) != len(names):
        raise ConfigError(f"trainer.class_weights is {weights} ({len(weights)} weights), but the dataset has "
                          f"{len(names)} classes ({', '.join(names)}): give one weight per class in label order, "
                          f"or auto")
    return weights
