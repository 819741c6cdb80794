"""core.scheduler: recurring tasks, run once across replicas when global."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal, Protocol, TypeAlias, overload

__all__ = [
    "CronFrequency",
    "ManualTrigger",
    "ScheduleFrequency",
    "SchedulerService",
    "SchedulerServiceTaskDescriptor",
    "SchedulerServiceTaskRunner",
    "SchedulerServiceTaskScheduleDefinition",
    "TaskFunction",
    "TaskScope",
]

TaskScope = Literal["global", "local"]
TaskFunction = Callable[[asyncio.Event], Awaitable[None]]
"""A task body; the event is set when the run is aborted (timeout, shutdown, cancel)."""


@dataclass(frozen=True)
class CronFrequency:
    cron: str
    """A 5 or 6 field cron expression (6 fields: seconds first), evaluated in UTC."""


@dataclass(frozen=True)
class ManualTrigger:
    """A task that runs only when triggered."""


@dataclass(frozen=True)
class SchedulerServiceTaskScheduleDefinition:
    frequency: timedelta | CronFrequency | ManualTrigger
    timeout: timedelta
    initial_delay: timedelta | None = None
    scope: TaskScope = "global"


ScheduleFrequency: TypeAlias = timedelta | str | CronFrequency | ManualTrigger
"""What `schedule_task(frequency=...)` takes: a `str` is a cron expression (5 or 6 fields),
`'manual'`, or a duration (`'PT5M'`, `'5m'`)."""


@dataclass(frozen=True)
class SchedulerServiceTaskDescriptor:
    id: str
    scope: TaskScope
    settings: dict[str, Any]


class SchedulerServiceTaskRunner(Protocol):
    async def run(self, *, id: str, fn: TaskFunction) -> None: ...


class SchedulerService(Protocol):
    @overload
    async def schedule_task(
        self, *, id: str, fn: TaskFunction, schedule: SchedulerServiceTaskScheduleDefinition
    ) -> None: ...

    @overload
    async def schedule_task(
        self,
        *,
        id: str,
        fn: TaskFunction,
        frequency: ScheduleFrequency,
        timeout: timedelta | str,
        initial_delay: timedelta | str | None = None,
        scope: TaskScope = "global",
    ) -> None: ...

    async def schedule_task(self, **task: Any) -> None:
        """Run `fn` on a schedule, given as `schedule=` or as its separate fields.

        Invalid schedules raise InputError naming the offending field.
        """
        ...

    def create_scheduled_task_runner(
        self, schedule: SchedulerServiceTaskScheduleDefinition
    ) -> SchedulerServiceTaskRunner: ...

    async def trigger_task(self, id: str) -> None:
        """Run now; NotFoundError when unknown, ConflictError when already running."""
        ...

    async def cancel_task(self, id: str) -> None:
        """Abort the current run; NotFoundError when unknown, ConflictError when idle."""
        ...

    async def get_scheduled_tasks(self) -> list[SchedulerServiceTaskDescriptor]: ...
