"""The ladder sweep's schedulers: one pure object per `ladder.kind` (see `base.Scheduler`), all state in
the sweep's `SweepBook`. `scheduler_for` picks the one a sweep decides with."""

from __future__ import annotations

from collections.abc import Collection

from workflows.payloads.sweep import LadderSweepInput
from workflows.schedulers.asha import AshaScheduler
from workflows.schedulers.asha_ordered import OrderedAshaScheduler
from workflows.schedulers.base import Scheduler
from workflows.schedulers.book import SweepBook
from workflows.schedulers.hyperband import HyperbandScheduler
from workflows.schedulers.none import NoLadder
from workflows.schedulers.pbt_scheduler import PbtScheduler
from workflows.schedulers.sha import ShaScheduler

SCHEDULERS: dict[str, type[Scheduler]] = {
    "sha": ShaScheduler, "asha": AshaScheduler, "hyperband": HyperbandScheduler, "none": NoLadder,
    "pbt": PbtScheduler}
"""`ladder.kind` -> its scheduler (asha in ordered mode: `OrderedAshaScheduler`)."""


def scheduler_for(kind: str, ordered: bool) -> Scheduler:
    """The scheduler of a sweep of `kind`; `ordered`: the sweep decides independently of timing
    (`SweepState.ordered`), which only asha's decisions depend on."""
    if kind == "asha" and ordered:
        return OrderedAshaScheduler()
    return SCHEDULERS[kind]()


def open_book(input: LadderSweepInput, running: Collection[int] = ()) -> SweepBook:
    """The records of a sweep (`input.state`, or a new one), deciding with `scheduler_for`."""
    return SweepBook(input, scheduler_for, running)
