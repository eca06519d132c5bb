"""Hydra 1.3 copies the whole ConfigStore each time it composes or lists a config group: its
`CachingConfigRepository` deep-copies the config repository, whose structured-config source holds the
ConfigStore singleton, so every schema node is copied too (~40 ms a copy here). `--help` lists each group
twice, about 100 copies, 4 s of its start-up; a completion or a compose pays it once or a few times.

Hydra's main branch reads the live singleton instead of holding it (facebookresearch/hydra#2928, not in a
1.3 release). `share_config_store` gives 1.3 the same behaviour: a copied repository shares the one
ConfigStore. That is safe because the store is only written while configs are registered, and
`ConfigStore.load` already hands out a copy of each node it returns.
"""

from __future__ import annotations

from typing import Any

from hydra.core.config_store import ConfigStore


def _shared(store: ConfigStore, memo: dict[int, Any]) -> ConfigStore:
    return store


def share_config_store() -> None:
    """Make a deep copy of the ConfigStore the store itself (see the module docstring)."""
    setattr(ConfigStore, "__deepcopy__", _shared)  # noqa: B010 - mypy: ConfigStore declares no __deepcopy__
