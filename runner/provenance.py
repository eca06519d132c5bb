"""Where a run's config came from: the git commit (and dirty flag) of the config repo Hydra read it from."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass
class ConfigRepoState:
    path: str
    commit: str = ""
    """Empty when the config folder is not inside a git work tree."""
    dirty: bool = False


def config_folder() -> Path | None:
    """The folder of the primary config: `--config-dir` when given, else the one `config_path` names."""
    from hydra.core.hydra_config import HydraConfig

    sources = HydraConfig.get().runtime.config_sources
    for provider in ("command-line", "main"):
        for source in sources:
            if source.provider == provider and source.schema in ("file", "pkg"):
                return _as_folder(source.schema, source.path)
    return None


def _as_folder(schema: str, path: str) -> Path | None:
    if schema == "file":
        return Path(path)
    import importlib.util

    spec = importlib.util.find_spec(path.replace("/", "."))
    locations = list(spec.submodule_search_locations or []) if spec else []
    return Path(locations[0]) if locations else None


def repo_state(folder: Path | None) -> ConfigRepoState:
    """Commit of the git work tree holding `folder` and whether that folder has uncommitted changes."""
    if folder is None:
        return ConfigRepoState(path="")

    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=30)
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "HEAD")
    dirty = bool(commit and git("status", "--porcelain", "--", "."))
    return ConfigRepoState(path=str(folder), commit=commit, dirty=dirty)
