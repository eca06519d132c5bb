"""The custom search attributes train-tune sets on its workflows, so runs can be filtered in the Temporal
Web UI and with `temporal workflow list --query "TrainTuneModel = 'bert_tiny'"`.

The embedded server registers them when it starts; a remote namespace needs them registered once
(`temporal operator search-attribute create --name TrainTuneModel --type Keyword ...`): the runner checks
which exist and sets only those. `TrainTuneBestMetric` is upserted by the workflow as results arrive
(a single run: its test accuracy; a coordinator: its best job's test accuracy; a ladder sweep: the best
rung score of `trainer.monitor` so far, `direction`-wise).
"""

from __future__ import annotations

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.common import SearchAttributeKey

EXPERIMENT = SearchAttributeKey.for_keyword("TrainTuneExperiment")
CONFIG_HASH = SearchAttributeKey.for_keyword("TrainTuneConfigHash")
GIT_SHA = SearchAttributeKey.for_keyword("TrainTuneGitSha")
"""The config repo's commit, with `-dirty` appended when its config folder had uncommitted changes."""
MODEL = SearchAttributeKey.for_keyword("TrainTuneModel")
DATASET = SearchAttributeKey.for_keyword("TrainTuneDataset")
BEST_METRIC = SearchAttributeKey.for_float("TrainTuneBestMetric")

ALL = (EXPERIMENT, CONFIG_HASH, GIT_SHA, MODEL, DATASET, BEST_METRIC)
SERVER_TYPE = {"INDEXED_VALUE_TYPE_KEYWORD": "Keyword", "INDEXED_VALUE_TYPE_DOUBLE": "Double"}
"""The server's names for the key types (`--search-attribute NAME=TYPE`)."""


def server_flags() -> list[str]:
    """`temporal server start-dev` arguments that register every attribute."""
    flags: list[str] = []
    for key in ALL:
        kind = IndexedValueType.Name(key.indexed_value_type)  # type: ignore[arg-type]  # the same int enum
        flags += ["--search-attribute", f"{key.name}={SERVER_TYPE[kind]}"]
    return flags
