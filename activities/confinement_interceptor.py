"""The worker side of `activities.confinement`: every activity input is checked against the worker's
`Confinement` before the activity runs; a refused input fails its activity non-retryably."""

from __future__ import annotations

from typing import Any

from temporalio import activity
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from activities.confinement import Confinement
from activities.errors import non_retryable
from workflows.payloads.errors import ConfigError


class ConfinementInterceptor(Interceptor):
    """Checks every activity input against the worker's `Confinement` before the activity runs."""

    def __init__(self, confinement: Confinement) -> None:
        self.confinement = confinement

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _ConfinedActivity(next, self.confinement)


class _ConfinedActivity(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, confinement: Confinement) -> None:
        super().__init__(next)
        self.confinement = confinement

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        try:
            for arg in input.args:
                self.confinement.check(arg)
        except ConfigError as error:
            activity.logger.warning("refused: %s", error)
            raise non_retryable(error) from error
        return await self.next.execute_activity(input)
