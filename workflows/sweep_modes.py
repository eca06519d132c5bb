"""What a ladder sweep fixes for its lifetime in its carried state (`SweepState`), each behind the
`workflow.patched` id of the code that brought it: deciding independently of timing (`ordered`), ordered
asha's promotion order (`by_promotion`) and ranking by objective vectors (`pareto`)."""

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.payloads.sweep import LadderSweepInput, SweepState
    from workflows.schedulers.mo_ranking import ranks_by_pareto

ORDERED_DECISIONS = "ordered-decisions"
"""`workflow.patched` id of deciding independently of timing (`sampler.deterministic`)."""
PROMOTION_ORDER = "ordered-promotion-order"
"""The patch id of ordered asha applying rung r >= 1's results in promotion order (`SweepState.by_promotion`)."""
PARETO_RANKING = "pareto-ranking"
"""The patch id of ranking a sweep with objectives or constraints by vectors (`SweepState.pareto`)."""


def fix_modes(input: LadderSweepInput, state: SweepState) -> None:
    """Whether the sweep decides independently of timing, fixed for its lifetime in its carried state:
    asked for (`sampler.deterministic`) and started by code that has the mode. A sweep started before it
    replays without the patch marker, and its hand-offs carry no decision (`state.ordered` None): both
    stay in arrival order. Likewise `by_promotion` (`workflows.schedulers.asha_ordered`), and `pareto`
    (`workflows.schedulers.mo_ranking`): sweeps without objectives or constraints never ask for its patch."""
    if state.ordered is None:
        state.ordered = bool(input.sampler.deterministic) and input.state is None and workflow.patched(
            ORDERED_DECISIONS)
    if state.by_promotion is None:  # an older ordered sweep's hand-off carries none: it keeps number order
        state.by_promotion = bool(state.ordered) and input.state is None and workflow.patched(PROMOTION_ORDER)
    if state.pareto is None:
        state.pareto = ranks_by_pareto(input) and input.state is None and workflow.patched(PARETO_RANKING)
