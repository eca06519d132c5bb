"""Where a run's config came from: the git commit (and dirty flag) of the config repo Hydra read it from."""

from __future__ import annotations

import importlib.util
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from hydra.core.hydra_config import HydraConfig

from workflows.payloads.errors import ConfigError


@dataclass
class ConfigRepoState:
    path: str
    commit: str = ""
    """Empty when the config folder is not inside a git work tree."""
    dirty: bool = False
    changes: list[str] = field(default_factory=list)
    """Paths with uncommitted changes (as `git status --porcelain` names them, relative to the repo)."""


def config_folder(sources=None) -> Path | None:
    """The user's config folder, whose git commit a run records: `--config-dir` when given, else the first
    `file://` entry of `hydra.searchpath`, else the folder `config_path` names (from Hydra's runtime config
    sources; those of the running job when not given)."""
    if sources is None:
        sources = HydraConfig.get().runtime.config_sources
    ranked = [
        lambda s: s.provider == "command-line" and s.schema in ("file", "pkg"),
        lambda s: str(s.provider).startswith("hydra.searchpath") and s.schema == "file",
        lambda s: s.provider == "main" and s.schema in ("file", "pkg"),
    ]
    for wanted in ranked:
        for source in sources:
            if wanted(source):
                return _as_folder(source.schema, source.path)
    return None


def _as_folder(schema: str, path: str) -> Path | None:
    if schema == "file":
        return Path(path)

    spec = importlib.util.find_spec(path.replace("/", "."))
    locations = list(spec.submodule_search_locations or []) if spec else []
    return Path(locations[0]) if locations else None


def repo_state(folder: Path | None) -> ConfigRepoState:
    """Commit of the git work tree holding `folder` and whether that folder has uncommitted changes."""
    if folder is None:
        return ConfigRepoState(path="")

    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=30,
                              check=False)
        return done.stdout if done.returncode == 0 else ""

    commit = git("rev-parse", "HEAD").strip()
    changes = git("status", "--porcelain", "--", ".") if commit else ""
    paths = [line[3:] for line in changes.splitlines() if line.strip()]  # "XY path"
    return ConfigRepoState(path=str(folder), commit=commit, dirty=bool(paths), changes=paths)


def repo_line(state: ConfigRepoState) -> str:
    """What a run says on screen about its config's version ('' when the config folder is not in git)."""
    if not state.commit:
        return ""
    if not state.dirty:
        return f"config repo {state.path} at commit {state.commit[:12]}"
    shown = ", ".join(state.changes[:5]) + (" ..." if len(state.changes) > 5 else "")
    return f"config repo {state.path} at commit {state.commit[:12]}, dirty: uncommitted changes in {shown}"


def checked_repo_state(folder: Path | None, require_clean: bool) -> ConfigRepoState:
    """`repo_state`, refusing (ConfigError) a config folder with uncommitted changes, or outside git, when
    `require_clean_config` is true: nothing is started."""
    state = repo_state(folder)
    if require_clean and not state.commit:
        raise ConfigError(f"require_clean_config is true, but the config folder {state.path or '(none)'} is not in "
                          "a git work tree, so its version cannot be recorded; commit it to a git repo, or set "
                          "require_clean_config=false")
    if require_clean and state.dirty:
        shown = ", ".join(state.changes[:10]) + (" ..." if len(state.changes) > 10 else "")
        raise ConfigError(f"require_clean_config is true, but the config repo {state.path} has uncommitted changes "
                          f"({shown}) at commit {state.commit[:12]}; commit or stash them, or set "
                          "require_clean_config=false")
    return state
