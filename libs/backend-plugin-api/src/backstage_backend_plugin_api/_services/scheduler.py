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
"""`global`: each run happens once across all replicas (coordinated through the plugin's
database). `local`: each replica runs the task on its own."""
TaskFunction = Callable[[asyncio.Event], Awaitable[None]]
"""A task body; the event is set when the run is aborted (timeout, shutdown, cancel)."""


@dataclass(frozen=True)
class CronFrequency:
    """A frequency given as a cron expression.

    Args:
        cron: a 5 or 6 field cron expression (6 fields: seconds first), evaluated in UTC.
    """

    cron: str


@dataclass(frozen=True)
class ManualTrigger:
    """A task that runs only when triggered."""


@dataclass(frozen=True)
class SchedulerServiceTaskScheduleDefinition:
    """A checked schedule; build one with `task_schedule_definition` or read it from config
    with `read_scheduler_service_task_schedule_definition_from_config`.

    Args:
        frequency: how often the task runs: every interval, on a cron expression, or only
            when triggered.
        timeout: how long a run may take before it is aborted.
        initial_delay: how long to wait before the first run; None: run at once.
        scope: whether runs are `global` (once across replicas) or `local`.
    """

    frequency: timedelta | CronFrequency | ManualTrigger
    timeout: timedelta
    initial_delay: timedelta | None = None
    scope: TaskScope = "global"


ScheduleFrequency: TypeAlias = timedelta | str | CronFrequency | ManualTrigger
"""What `schedule_task(frequency=...)` takes: a `str` is a cron expression (5 or 6 fields),
`'manual'`, or a duration (`'PT5M'`, `'5m'`)."""


@dataclass(frozen=True)
class SchedulerServiceTaskDescriptor:
    """A task the plugin scheduled, as `get_scheduled_tasks` lists it.

    Args:
        id: the task's id.
        scope: `global` or `local`.
        settings: its schedule as Backstage serialises it (`version`, `cadence`,
            `timeoutAfterDuration`, `initialDelayDuration`).
    """

    id: str
    scope: TaskScope
    settings: dict[str, Any]


class SchedulerServiceTaskRunner(Protocol):
    """Schedules tasks on one schedule given in advance (see
    `SchedulerService.create_scheduled_task_runner`)."""

    async def run(self, *, id: str, fn: TaskFunction) -> None:
        """Schedule `fn` on the runner's schedule.

        Args:
            id: the task's id, unique within the plugin.
            fn: the task body (see `TaskFunction`).
        """
        ...


class SchedulerService(Protocol):
    """core.scheduler: the plugin's recurring tasks, run once across replicas when global."""

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

        Args:
            id: the task's id, unique within the plugin; a global task keeps its state
                (next run, last error) under it across restarts.
            fn: the task body (see `TaskFunction`).
            schedule: the whole schedule, instead of the fields below.
            frequency: how often it runs (see `ScheduleFrequency`).
            timeout: how long a run may take before it is aborted (a timedelta, or an
                ISO 8601 or short duration string such as `'PT1M'` or `'1m'`).
            initial_delay: how long to wait before the first run; None: run at once.
            scope: `global` (once across replicas, the default) or `local`.
        """
        ...

    def create_scheduled_task_runner(
        self, schedule: SchedulerServiceTaskScheduleDefinition
    ) -> SchedulerServiceTaskRunner:
        """A runner that schedules tasks on `schedule` (typically read from config).

        Args:
            schedule: the schedule every task of the runner gets.
        """
        ...

    async def trigger_task(self, id: str) -> None:
        """Run now; NotFoundError when unknown, ConflictError when already running.

        Args:
            id: the task's id.
        """
        ...

    async def cancel_task(self, id: str) -> None:
        """Abort the current run; NotFoundError when unknown, ConflictError when idle.

        Args:
            id: the task's id.
        """
        ...

    async def get_scheduled_tasks(self) -> list[SchedulerServiceTaskDescriptor]:
        """The tasks this plugin scheduled in this process."""
        ...
