"""Which of train-tune's search attributes (`workflows.search_attributes`) a namespace has, and their
values for a run, so that runs can be filtered in the Web UI and with `temporal workflow list --query`."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes

from runner.provenance import ConfigRepoState
from workflows.search_attributes import ALL, CONFIG_HASH, DATASET, EXPERIMENT, GIT_SHA, MODEL

log = logging.getLogger(__name__)
_registered: dict[tuple[int, str], set[str]] = {}


async def registered(client: Client) -> set[str]:
    """Names of train-tune's attributes registered on the client's namespace (empty when it cannot be
    asked, e.g. an API key without operator rights)."""
    cache_key = (id(client), client.namespace)
    if cache_key not in _registered:
        try:
            listed = await client.operator_service.list_search_attributes(
                ListSearchAttributesRequest(namespace=client.namespace))
            names = set(listed.custom_attributes)
        except Exception as error:  # noqa: BLE001 - the run goes on without attributes
            log.warning("cannot list the search attributes of namespace %s: %s", client.namespace, error)
            names = set()
        _registered[cache_key] = {key.name for key in ALL} & names
        missing = [key.name for key in ALL if key.name not in names]
        if missing:
            log.warning("namespace %s lacks search attributes %s; runs are not labelled with them. Register them "
                        "once with `temporal operator search-attribute create --name NAME --type TYPE` "
                        "(see workflows/search_attributes.py)", client.namespace, ", ".join(missing))
    return _registered[cache_key]


@dataclass
class RunLabels:
    """What a run is started with besides its input: the provenance memo and the search attributes."""

    memo: dict[str, Any] = field(default_factory=dict)
    search_attributes: TypedSearchAttributes = field(default_factory=lambda: TypedSearchAttributes([]))
    upsert_best_metric: bool = False


def git_label(repo: ConfigRepoState) -> str:
    return f"{repo.commit}-dirty" if repo.commit and repo.dirty else repo.commit


async def run_labels(client: Client, repo: ConfigRepoState, experiment: str, config_hash: str = "",
                     model: str = "", dataset: str = "") -> RunLabels:
    """The memo entry `config_repo` ({path, commit, dirty}) and those attributes the namespace has."""
    names = await registered(client)
    values: list[SearchAttributePair] = []
    for key, value in ((EXPERIMENT, experiment), (CONFIG_HASH, config_hash), (GIT_SHA, git_label(repo)),
                       (MODEL, model), (DATASET, dataset)):
        if value and key.name in names:
            values.append(SearchAttributePair(key, value))
    return RunLabels(memo={"config_repo": {"path": repo.path, "commit": repo.commit, "dirty": repo.dirty}},
                     search_attributes=TypedSearchAttributes(values),
                     upsert_best_metric="TrainTuneBestMetric" in names)
