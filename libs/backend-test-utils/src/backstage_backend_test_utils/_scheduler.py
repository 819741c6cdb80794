"""Mock `core.scheduler`: records tasks and runs each once when the backend has started."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from backstage_backend_plugin_api import (
    CronFrequency,
    LoggerService,
    ManualTrigger,
    ScheduleFrequency,
    SchedulerService,
    SchedulerServiceTaskDescriptor,
    SchedulerServiceTaskRunner,
    SchedulerServiceTaskScheduleDefinition,
    ServiceFactory,
    TaskFunction,
    TaskScope,
    create_service_factory,
    task_schedule_definition,
)
from backstage_backend_plugin_api import core_services as core
from backstage_common.errors import ConflictError, InputError, NotFoundError

__all__ = ["MockScheduler", "mock_scheduler_factory"]


def _iso_duration(value: timedelta) -> str:
    seconds = value.total_seconds()
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, rest = divmod(rest, 60)
    time = "".join(
        f"{amount:g}{unit}"
        for amount, unit in ((hours, "H"), (minutes, "M"), (rest, "S"))
        if amount
    )
    text = "P" + (f"{days:g}D" if days else "") + (f"T{time}" if time else "")
    return text if text != "P" else "PT0S"


def _settings(schedule: SchedulerServiceTaskScheduleDefinition) -> dict[str, Any]:
    frequency = schedule.frequency
    if isinstance(frequency, CronFrequency):
        cadence = frequency.cron
    elif isinstance(frequency, ManualTrigger):
        cadence = "manual"
    else:
        cadence = _iso_duration(frequency)
    settings: dict[str, Any] = {
        "version": 2,
        "cadence": cadence,
        "timeoutAfterDuration": _iso_duration(schedule.timeout),
    }
    if schedule.initial_delay is not None:
        settings["initialDelayDuration"] = _iso_duration(schedule.initial_delay)
    return settings


@dataclass
class _Task:
    id: str
    fn: TaskFunction
    schedule: SchedulerServiceTaskScheduleDefinition
    abort: asyncio.Event | None = None
    runs: int = 0
    last_error: BaseException | None = field(default=None, repr=False)

    @property
    def descriptor(self) -> SchedulerServiceTaskDescriptor:
        return SchedulerServiceTaskDescriptor(
            self.id, self.schedule.scope, _settings(self.schedule)
        )


class _Runner:
    def __init__(
        self, scheduler: MockScheduler, schedule: SchedulerServiceTaskScheduleDefinition
    ) -> None:
        self._scheduler = scheduler
        self._schedule = schedule

    async def run(self, *, id: str, fn: TaskFunction) -> None:
        await self._scheduler.schedule_task(id=id, fn=fn, schedule=self._schedule)


class MockScheduler:
    """Keeps the tasks of one plugin; runs them only when asked to.

    `trigger_task` runs a task and returns when the run has ended; its errors are logged
    and kept as `last_error(id)`, never raised. The test backend's factory runs every
    task once at root startup (see `mock_scheduler_factory`).
    """

    def __init__(self, plugin_id: str = "test", *, logger: LoggerService | None = None) -> None:
        self.plugin_id = plugin_id
        self._logger = logger
        self._tasks: dict[str, _Task] = {}
        self._shut_down = False

    async def schedule_task(
        self,
        *,
        id: str,
        fn: TaskFunction,
        schedule: SchedulerServiceTaskScheduleDefinition | None = None,
        frequency: ScheduleFrequency | None = None,
        timeout: timedelta | str | None = None,
        initial_delay: timedelta | str | None = None,
        scope: TaskScope = "global",
    ) -> None:
        if not id:
            raise InputError("A scheduled task needs a non-empty id")
        if schedule is None:
            if frequency is None or timeout is None:
                raise InputError(f"Task {id} needs a schedule, or a frequency and a timeout")
            schedule = task_schedule_definition(
                frequency=frequency, timeout=timeout, initial_delay=initial_delay, scope=scope
            )
        self._tasks[id] = _Task(id, fn, schedule)

    def create_scheduled_task_runner(
        self, schedule: SchedulerServiceTaskScheduleDefinition
    ) -> SchedulerServiceTaskRunner:
        return _Runner(self, schedule)

    def _task(self, id: str) -> _Task:
        task = self._tasks.get(id)
        if task is None:
            raise NotFoundError(f"Task {id} does not exist")
        return task

    async def trigger_task(self, id: str) -> None:
        task = self._task(id)
        if task.abort is not None:
            raise ConflictError(f"Task {id} is currently running")
        abort = asyncio.Event()
        task.abort = abort
        if self._shut_down:
            abort.set()
        timer = asyncio.get_running_loop().call_later(
            task.schedule.timeout.total_seconds(), abort.set
        )
        try:
            task.runs += 1
            await task.fn(abort)
            task.last_error = None
        except Exception as error:
            task.last_error = error
            if self._logger is not None:
                self._logger.error(f"Task {id} failed, {error}", error)
        finally:
            timer.cancel()
            task.abort = None

    async def cancel_task(self, id: str) -> None:
        task = self._task(id)
        if task.abort is None:
            raise ConflictError(f"Task {id} is not running")
        task.abort.set()

    async def get_scheduled_tasks(self) -> list[SchedulerServiceTaskDescriptor]:
        return [task.descriptor for task in self._tasks.values()]

    def run_count(self, id: str) -> int:
        """How many times the task has been started."""
        return self._task(id).runs

    def last_error(self, id: str) -> BaseException | None:
        """The error of the task's last run, None when it succeeded or never ran."""
        return self._task(id).last_error

    async def run_startup_tasks(
        self, *, include_manual_tasks: bool = False, include_initial_delayed_tasks: bool = False
    ) -> None:
        """Run every recurring task once, concurrently, and wait for all of them.

        Manual tasks and tasks with an initial delay are left out unless included, as in
        Backstage's mock scheduler.
        """
        selected = [
            task.id
            for task in self._tasks.values()
            if (include_initial_delayed_tasks or not task.schedule.initial_delay)
            and (include_manual_tasks or not isinstance(task.schedule.frequency, ManualTrigger))
        ]
        await asyncio.gather(*(self._trigger_if_idle(id) for id in selected))

    async def _trigger_if_idle(self, id: str) -> None:
        with contextlib.suppress(ConflictError):
            await self.trigger_task(id)

    async def shutdown(self) -> None:
        """Abort every running task; tasks triggered from now on start aborted."""
        self._shut_down = True
        for task in self._tasks.values():
            if task.abort is not None:
                task.abort.set()


class _SchedulerRoot:
    def __init__(self, *, include_manual: bool, include_delayed: bool) -> None:
        self._include_manual = include_manual
        self._include_delayed = include_delayed
        self._schedulers: list[MockScheduler] = []

    def add(self, scheduler: MockScheduler) -> None:
        self._schedulers.append(scheduler)

    async def run_all(self) -> None:
        await asyncio.gather(
            *(
                scheduler.run_startup_tasks(
                    include_manual_tasks=self._include_manual,
                    include_initial_delayed_tasks=self._include_delayed,
                )
                for scheduler in self._schedulers
            )
        )


def mock_scheduler_factory(
    *,
    skip_task_run_on_startup: bool = False,
    include_manual_tasks_on_startup: bool = False,
    include_initial_delayed_tasks_on_startup: bool = False,
) -> ServiceFactory[SchedulerService]:
    """A `MockScheduler` per plugin; at root startup every task scheduled so far runs once.

    Tasks are aborted when their plugin shuts down.
    """

    def create_root(lifecycle: core.RootLifecycle) -> _SchedulerRoot:
        root = _SchedulerRoot(
            include_manual=include_manual_tasks_on_startup,
            include_delayed=include_initial_delayed_tasks_on_startup,
        )
        if not skip_task_run_on_startup:
            # Created after startup (a late `get_service`): nothing left to run at startup.
            with contextlib.suppress(ConflictError):
                lifecycle.add_startup_hook(root.run_all)
        return root

    def create(
        root: _SchedulerRoot,
        lifecycle: core.Lifecycle,
        logger: core.Logger,
        metadata: core.PluginMetadata,
    ) -> SchedulerService:
        scheduler = MockScheduler(metadata.get_id(), logger=logger)
        root.add(scheduler)
        with contextlib.suppress(ConflictError):
            lifecycle.add_shutdown_hook(scheduler.shutdown)
        return scheduler

    return create_service_factory(
        service=core.scheduler, factory=create, create_root_context=create_root
    )
