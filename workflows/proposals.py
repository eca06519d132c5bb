"""A trial's proposal: the `suggest` activity asked with the sweep's own history (`workflows.sampler_history`),
the trial's `enqueue:` entry (trial i takes entry i) and the earlier sweeps' trials of `warm_start.from`
(each as the sampler learns it); and the `warm_start` decision that says what the sweep took from them.
Entries and warm trials go into the request only behind `workflow.patched`, so sweeps started before them
replay unchanged; everything but `propose` is pure."""

import asyncio
import math
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from workflows import sampler_history
    from workflows.payloads import activity_names
    from workflows.payloads.messages import FinishedTrial, Suggestion, SuggestRequest
    from workflows.payloads.names import CONFIG_ERROR
    from workflows.payloads.records import PbtStep, TrialState
    from workflows.payloads.sweep import LadderSweepInput
    from workflows.payloads.warm_start import EarlierTrial, WarmStart
    from workflows.sampler_history import LEARNS_FROM_HISTORY
    from workflows.schedulers.book import SweepBook
    from workflows.schedulers.mo_ranking import sampler_directions

ENQUEUE_PATCH = "enqueue"
"""`workflow.patched` id of proposing `enqueue:` entries first (asked only by sweeps that have some)."""
WARM_START_PATCH = "warm-start"
"""`workflow.patched` id of learning from earlier sweeps (asked only by sweeps started with `warm_start`)."""
PREFETCH_PATCH = "prefetch-proposals"
"""`workflow.patched` id of asking the next trials' proposals while the slots still train (`Prefetch`)."""


def extras(input: LadderSweepInput, number: int, patched: Callable[[str], bool]) -> tuple[dict[str, Any],
                                                                                         list[FinishedTrial]]:
    """Trial `number`'s `enqueue:` entry and the warm-start history its `suggest` request holds, each only
    when `patched` (`workflow.patched`) says the sweep was started by code that has it."""
    entry, warm = enqueued(input, number), warm_history(input)
    return (entry if entry and patched(ENQUEUE_PATCH) else {}), (warm if warm and patched(WARM_START_PATCH) else [])


def enqueued(input: LadderSweepInput, number: int) -> dict[str, Any]:
    """Trial `number`'s `enqueue:` entry, or {} (trials past the list are proposed by the sampler)."""
    return dict(input.enqueue[number]) if 0 <= number < len(input.enqueue) else {}


def learned(trial: EarlierTrial) -> FinishedTrial:
    """What the sampler learns from an earlier sweep's trial: its result at its last rung (complete when
    that was its sweep's top), with every rung's result as an intermediate value; a trial without a finite
    result teaches nothing (failed)."""
    last = trial.metrics[-1] if trial.metrics else float("nan")
    if not math.isfinite(last):
        return FinishedTrial(number=trial.number, params=dict(trial.params), state="failed")
    return FinishedTrial(number=trial.number, params=dict(trial.params), state=trial.state, value=last,
                         step=trial.rung_steps[-1], rung_steps=list(trial.rung_steps), rung_values=list(trial.metrics))


def warm_history(input: LadderSweepInput) -> list[FinishedTrial]:
    """The earlier sweeps' trials the sampler holds before this sweep's own (none for samplers that learn
    from no history: random, QMC and grid)."""
    if input.warm_start is None or input.sampler.name not in LEARNS_FROM_HISTORY:
        return []
    return [learned(t) for t in input.warm_start.trials]


def warm_start_detail(input: LadderSweepInput) -> str:
    """The `warm_start` decision: which sweeps, how many of their trials the sampler learns from, how many
    were skipped and why, and how many rung checkpoints may be reused."""
    warm = input.warm_start
    assert warm is not None
    sweeps = ", ".join(warm.sweeps)
    if input.sampler.name in LEARNS_FROM_HISTORY:
        learns = (f"sampler {input.sampler.name} learns from {len(warm.trials)} finished trials of {sweeps} "
                  f"({sum(t.state == 'complete' for t in warm.trials)} complete)")
    else:
        learns = f"sampler {input.sampler.name} learns from no history; {len(warm.trials)} finished trials of {sweeps}"
    skipped = f"; {warm.skipped} skipped (parameters outside this search space)" if warm.skipped else ""
    return f"{learns}{skipped}; {reuse_summary(warm)}" + "".join(f"; {note}" for note in warm.notes)


def reuse_summary(warm: WarmStart) -> str:
    if not warm.reuse_checkpoints:
        return "checkpoint reuse off (warm_start.reuse_checkpoints: false)"
    rungs = sum(len(t.digests) for t in warm.trials)
    return f"{rungs} rung checkpoints of {sum(bool(t.digests) for t in warm.trials)} trials may be reused"


def waits(book: SweepBook, input: LadderSweepInput) -> bool:
    """Whether a proposal waits for results: in ordered mode, with a sampler that learns from history."""
    return bool(book.s.ordered) and input.sampler.name in LEARNS_FROM_HISTORY


def ready(book: SweepBook, input: LadderSweepInput, number: int) -> bool:
    """Whether trial `number`'s proposal can be asked now: when it `waits`, once the trials below
    number - lag have their results (`sampler_history.proposal_ready`); otherwise always."""
    return not waits(book, input) or sampler_history.proposal_ready(book.trials, number, input.sampler.lag)


async def ask(book: SweepBook, input: LadderSweepInput, number: int) -> Suggestion:
    """The `suggest` activity's proposal for trial `number` (in ordered mode once the results it learns from,
    those below number - lag, are in)."""
    if waits(book, input):  # trials below n - lag
        await workflow.wait_condition(lambda: ready(book, input, number))
    history = sampler_history.proposal_history(book, number)
    entry, warm = extras(input, number, workflow.patched)
    return await workflow.execute_activity(
        activity_names.SUGGEST,
        SuggestRequest(space=input.space, sampler=input.sampler, direction=input.direction, trials=history,
                       number=number, enqueued=entry, warm=warm,
                       directions=sampler_directions(input) if book.s.pareto else []), result_type=Suggestion,
        task_queue=input.base.queues.orchestration,
        start_to_close_timeout=timedelta(minutes=5),
        retry_policy=RetryPolicy(maximum_attempts=3, non_retryable_error_types=[CONFIG_ERROR]),
        summary=f"trial {number}: suggest parameters",
    )


async def propose(book: SweepBook, input: LadderSweepInput, trial: TrialState,
                  asked: "asyncio.Task[Suggestion] | None" = None) -> None:
    """Record `trial`'s parameters (a `propose` decision with the reason): those `asked` ahead (`Prefetch`),
    else asked now."""
    suggestion = await (asked if asked is not None else ask(book, input, trial.number))
    trial.params, trial.proposed_by = dict(suggestion.params), suggestion.reason
    if input.kind == "pbt":  # a member's schedule starts with its proposal, on its own weights
        trial.lineage = [PbtStep(step=0, source=trial.number, params=dict(trial.params))]
    book.decide("propose", trial.number, -1, " ".join(f"{k}={v}" for k, v in sorted(trial.params.items()))
                + (f" ({suggestion.reason})" if suggestion.reason else ""))


class Prefetch:
    """Proposals asked before their trials start, so that a new trial's slot does not wait for its `suggest`
    round trip: the next new trials' (up to `parallelism` ahead of the next number, as many as the brackets
    have room for), each once the results it learns from are in. A proposal is the same request whenever it
    is asked: in ordered mode it learns from the trials below its number - lag, all of which exist when it is
    at most lag ahead of the next number (so no further); a sampler that learns from no history has nothing
    to wait for. So a seeded sweep proposes, decides and records exactly what it did without it. Off in
    arrival-order mode with a learning sampler (asked earlier, a proposal would see fewer results), for pbt,
    and for sweeps started before it (`PREFETCH_PATCH`)."""

    def __init__(self) -> None:
        self.asked: dict[int, asyncio.Task[Suggestion]] = {}

    def fill(self, book: SweepBook, input: LadderSweepInput) -> None:
        learns = input.sampler.name in LEARNS_FROM_HISTORY
        if input.kind == "pbt" or (learns and not book.s.ordered):  # arrival order: asked later, it sees more
            return
        first = book.next_number()
        room = sum(b.size - len(b.proposed) - b.archived_trials for b in book.s.brackets)
        ahead = min(max(1, input.parallelism), room, input.sampler.lag + 1 if learns else room)
        for number in range(first, first + ahead):
            if number not in self.asked and ready(book, input, number) and workflow.patched(PREFETCH_PATCH):
                self.asked[number] = asyncio.create_task(ask(book, input, number))

    def take(self, number: int) -> "asyncio.Task[Suggestion] | None":
        return self.asked.pop(number, None)

    def drop(self) -> None:
        """Cancel what was asked for trials that will not start in this run (the sweep stops or continues
        as new; the next run asks again, for the same proposals)."""
        for task in self.asked.values():
            task.cancel()
        self.asked = {}
