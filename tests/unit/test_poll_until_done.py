"""A Ctrl-C (the main task's cancellation) always ends a watcher's poll loop, also when it lands in the
instant a query answers (Python 3.11's `asyncio.wait_for` swallowed it there, and the watcher never left)."""
import asyncio

import pytest

from runner.submit import poll_until_done


class NeverEnding:
    """A run that does not end while watched: its result never comes."""
    id = "run"

    async def result(self):
        await asyncio.Event().wait()


def test_a_cancel_landing_as_the_query_answers_ends_the_watch():
    async def watch():
        me = asyncio.current_task()
        answers = []

        async def query():  # the Ctrl-C arrives while the answer is on its way
            me.cancel()
            return len(answers)

        with pytest.raises(asyncio.CancelledError):
            await poll_until_done(NeverEnding(), query, answers.append, poll_s=0.05)
        return answers

    answers = asyncio.run(asyncio.wait_for(watch(), timeout=10))
    assert answers == [0]  # the answer it had is shown, and nothing after the cancel


def test_a_query_that_never_answers_is_retried_not_waited_for_forever():
    async def watch():
        calls = []

        async def query():
            calls.append(1)
            await asyncio.Event().wait()

        with pytest.raises(LookupError, match="no answer from run"):
            await poll_until_done(NeverEnding(), query, print, poll_s=0.01, give_up_after_s=0.02,
                                  query_timeout_s=0.05)
        return calls

    assert len(asyncio.run(watch())) >= 2
