"""Read model weights out of a Lightning checkpoint without unpickling arbitrary objects."""

from __future__ import annotations

from pathlib import Path

from activities.engine.checkpoint_files import CHECKPOINT_SUFFIX, DIGEST_SUFFIX, TMP_SUFFIX, checkpoint_problem
from activities.models import load_classifier
from activities.paths import confined
from activities.shared_storage import storage
from workflows.payloads.errors import ConfigError
from workflows.payloads.specs import ModelSpec

MODULE_PREFIX = "model."
"""`SequenceClassifier` keeps the transformers model under the attribute `model`."""


def load_trained_classifier(spec: ModelSpec, checkpoint: str, label_names: list[str],
                            task: str = "sequence_classification"):
    """The classifier of `spec` with the weights stored in `checkpoint`, in eval mode.

    The checkpoint is read with `torch.load(weights_only=True)`: tensors and primitive containers only,
    so a checkpoint carrying a malicious pickle is refused instead of executed.
    """
    import torch  # torch loads only when weights are read: the runner imports this module (prune)

    path = Path(checkpoint)
    storage().fetch_checkpoint(path)  # from shared storage (storage.uri), when this machine lacks it
    if not path.is_file():
        raise ConfigError(f"checkpoint '{checkpoint}' does not exist")
    problem = checkpoint_problem(path)
    if problem:
        raise ConfigError(f"checkpoint '{checkpoint}' is unusable: {problem}")
    state = torch.load(path, map_location="cpu", weights_only=True)["state_dict"]
    weights = {k[len(MODULE_PREFIX):]: v for k, v in state.items() if k.startswith(MODULE_PREFIX)}
    model = load_classifier(spec, len(label_names), label_names, task)
    model.load_state_dict(weights)
    model.eval()
    return model


def prune_checkpoint_files(folder: Path, root: Path) -> int:
    """Delete the `*.ckpt` files of one trial folder (its Lightning logs stay, for learning curves).

    `folder` must lie inside `root` (the sweep's checkpoint folder): a path that escapes it is refused.
    Returns the number of files deleted; a folder that is already gone counts as done.
    """
    folder = confined(folder, root, "checkpoint folder")
    remote = storage().remove_checkpoints(folder)
    if not folder.is_dir():
        return remote
    deleted = 0
    for suffix in (CHECKPOINT_SUFFIX, CHECKPOINT_SUFFIX + DIGEST_SUFFIX, CHECKPOINT_SUFFIX + TMP_SUFFIX):
        for path in folder.glob(f"*{suffix}"):
            path.unlink(missing_ok=True)
            deleted += path.suffix == CHECKPOINT_SUFFIX
    return max(deleted, remote)
