"""Archiving changes no decision, tested on the schedulers alone (`tests.unit.sweep_sim`): the same sweep
keeping every trial and archiving in batches of 3 (parked trials promoted and loaded back, or stopped while
parked) makes the same decisions and the same rung table, as `tests/workflows/test_archive.py` checks
through a server."""

from __future__ import annotations

import pytest

from tests.unit.sweep_sim import Sim, sweep_input


@pytest.mark.parametrize("kind", ["sha", "asha", "hyperband", "none"])
@pytest.mark.parametrize("ordered", [False, True])
def test_archiving_changes_no_decision(kind, ordered):
    keep_all = Sim.start(sweep_input(kind, 40, [1, 3, 9]), ordered).run().end()
    archiving = Sim.start(sweep_input(kind, 40, [1, 3, 9], archive_batch=3), ordered).run().end()
    assert archiving.book.s.archive.parts >= 5
    assert archiving.decisions() == keep_all.decisions()
    assert archiving.book.rung_table() == keep_all.book.rung_table()
    assert len(archiving.book.trials) < 10  # the state: the best few and a batch at most


def test_parked_trials_are_promoted_loaded_back_or_stopped_where_they_wait():
    sim = Sim.start(sweep_input("sha", 27, [1, 3, 9], archive_batch=2)).run().end()
    kinds = {(d.kind, d.trial) for d in sim.decisions()}
    parked_ever = {n for n, t in sim.archive.items() if t.state == "waiting"}
    assert parked_ever, "some waiting trials were archived (parked)"
    promoted = {n for n in parked_ever if ("promote", n) in kinds}
    stopped = {n for n in parked_ever if ("stop", n) in kinds}
    assert promoted and stopped
    assert all(sim.book.trials.get(n) is None or sim.book.trials[n].rung > 0 for n in promoted)
    assert not any(b.parked.numbers for b in sim.book.s.brackets)  # the sweep ended: nothing waits


def test_a_user_stop_of_a_parked_trial_counts_its_result_and_never_starts_it():
    sim = Sim.start(sweep_input("sha", 9, [1, 3], archive_batch=2)).run(segments=8)
    book = sim.book
    parked = book.parked_numbers()
    assert parked
    stopped, cancel = book.stop_trial(parked[0])
    assert (stopped, cancel) == (True, False)
    assert parked[0] not in book.parked_numbers() and parked[0] in book.s.stopped_by_user
    assert book.s.brackets[0].archived[0].count >= 1
    sim.run().end()
    assert parked[0] not in book.trials
    assert not any(d.kind == "promote" and d.trial == parked[0] for d in sim.decisions())
