"""A plugin's scheduler: its local and global task workers, and the janitor of its table."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from backstage_backend_plugin_api import (
    DatabaseService,
    LoggerService,
    ScheduleFrequency,
    SchedulerServiceTaskDescriptor,
    SchedulerServiceTaskScheduleDefinition,
    TaskFunction,
    TaskScope,
    task_schedule_definition,
)
from backstage_common.errors import ConflictError, InputError

from backstage_backend_defaults.scheduler._global_worker import GlobalTaskWorker
from backstage_backend_defaults.scheduler._local_worker import LocalTaskWorker
from backstage_backend_defaults.scheduler._options import SchedulerOptions
from backstage_backend_defaults.scheduler._runs import CANCELLED, Wakeup, finish
from backstage_backend_defaults.scheduler._settings import TaskSettings
from backstage_backend_defaults.scheduler._store import TaskStore
from backstage_backend_defaults.scheduler._table import ensure_tasks_table

if TYPE_CHECKING:
    from backstage_backend_defaults.scheduler._hooks import TaskHooks

__all__ = ["PluginTaskScheduler"]

# Time for a worker to release its own run after the run was stopped.
_RELEASE_MARGIN = timedelta(seconds=1)


class _Runner:
    def __init__(
        self, scheduler: PluginTaskScheduler, schedule: SchedulerServiceTaskScheduleDefinition
    ) -> None:
        self._scheduler = scheduler
        self._schedule = schedule

    async def run(self, *, id: str, fn: TaskFunction) -> None:
        await self._scheduler.schedule_task(id=id, fn=fn, schedule=self._schedule)


class PluginTaskScheduler:
    """The default `SchedulerService` of one plugin.

    Global tasks live in the `backstage_backend_tasks__tasks` table of the plugin's
    database, which is opened (and the table created) when the first global task is
    scheduled; local tasks never touch the database.
    """

    def __init__(
        self,
        *,
        plugin_id: str,
        database: DatabaseService,
        logger: LoggerService,
        options: SchedulerOptions | None = None,
        instruments: TaskHooks | None = None,
    ) -> None:
        self.plugin_id = plugin_id
        self._instruments = instruments
        self._database = database
        self._logger = logger
        self._options = options or SchedulerOptions()
        self._store: asyncio.Task[TaskStore] | None = None
        self._janitor: asyncio.Task[None] | None = None
        self._janitor_wakeup = Wakeup()
        self._local: dict[str, LocalTaskWorker] = {}
        self._global: dict[str, GlobalTaskWorker] = {}
        self._descriptors: list[SchedulerServiceTaskDescriptor] = []
        self._stopped = False

    async def get_store(self) -> TaskStore:
        """The plugin's tasks table, created on first use; the janitor starts with it."""
        if self._store is None or (self._store.done() and self._store.exception() is not None):
            self._store = asyncio.ensure_future(self._open_store())
        # shielded: a cancelled caller must not cancel the opening others wait for
        return await asyncio.shield(self._store)

    async def _open_store(self) -> TaskStore:
        engine = await self._database.get_engine()
        if not self._database.migrations.skip:
            await ensure_tasks_table(engine)
        store = TaskStore(self._database, postgres=engine.dialect.name == "postgresql")
        if not self._stopped:
            self._janitor = asyncio.create_task(self._sweep(store), name="scheduler janitor")
        return store

    async def _sweep(self, store: TaskStore) -> None:
        while not self._stopped:
            try:
                for task_id in await store.release_expired(
                    self._options.abort_grace_period + _RELEASE_MARGIN
                ):
                    self._logger.warn(f"Task timed out and was lost: {task_id}")
            except Exception as error:
                self._logger.warn("Error while performing janitorial tasks", error)
            await self._janitor_wakeup.sleep(self._options.janitor_interval.total_seconds())

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
        if not isinstance(id, str) or not id.strip():
            raise InputError(f"{id!r} is not a valid task ID, expected a non-empty string")
        if schedule is None:
            if frequency is None or timeout is None:
                missing = "frequency" if frequency is None else "timeout"
                raise InputError(f"Invalid schedule for task '{id}': '{missing}' is required")
            try:
                schedule = task_schedule_definition(
                    frequency=frequency, timeout=timeout, initial_delay=initial_delay, scope=scope
                )
            except InputError as error:
                raise InputError(f"Invalid schedule for task '{id}': {error.message}") from None
        if id in self._local or id in self._global:
            raise ConflictError(f"Task {id} is already scheduled in plugin '{self.plugin_id}'")
        if self._stopped:
            raise ConflictError(f"The scheduler of plugin '{self.plugin_id}' has shut down")
        settings = TaskSettings.from_schedule(schedule)
        logger = self._logger.child({"task": id})
        if self._instruments is not None:  # each run traced and counted
            fn = self._instruments.wrap(self.plugin_id, id, fn)
        if schedule.scope == "global":
            worker = GlobalTaskWorker(
                id, fn, settings, store=self.get_store, logger=logger, options=self._options
            )
            self._global[id] = worker
            try:
                await worker.start()
            except BaseException:
                del self._global[id]
                raise
        else:
            local = LocalTaskWorker(id, fn, settings, logger=logger, options=self._options)
            self._local[id] = local
            local.start()
        self._descriptors.append(
            SchedulerServiceTaskDescriptor(id, schedule.scope, settings.to_dict())
        )

    def create_scheduled_task_runner(
        self, schedule: SchedulerServiceTaskScheduleDefinition
    ) -> _Runner:
        return _Runner(self, schedule)

    async def trigger_task(self, id: str) -> None:
        local = self._local.get(id)
        if local is not None:
            local.trigger()
            return
        await (await self.get_store()).trigger(id)
        worker = self._global.get(id)
        if worker is not None:
            worker.wake()

    async def cancel_task(self, id: str) -> None:
        local = self._local.get(id)
        if local is not None:
            local.cancel()
            return
        await (await self.get_store()).cancel(id)
        worker = self._global.get(id)
        if worker is not None:
            worker.abort_run(CANCELLED)

    async def get_scheduled_tasks(self) -> list[SchedulerServiceTaskDescriptor]:
        return list(self._descriptors)

    def global_worker(self, id: str) -> GlobalTaskWorker | None:
        """The worker of a global task scheduled here (to wait for its polls)."""
        return self._global.get(id)

    async def describe_tasks(self) -> list[dict[str, Any]]:
        """This process's tasks with their state, as the HTTP API shows them."""
        states = await (await self.get_store()).task_states() if self._global else {}
        described: list[dict[str, Any]] = []
        for task in self._descriptors:
            local = self._local.get(task.id)
            worker = local or self._global.get(task.id)
            described.append(
                {
                    "taskId": task.id,
                    "pluginId": self.plugin_id,
                    "scope": task.scope,
                    "settings": task.settings,
                    "taskState": local.task_state() if local else states.get(task.id),
                    "workerState": None if worker is None else {"status": worker.status},
                }
            )
        return described

    async def shutdown(self) -> None:
        """Stop every worker: runs in progress are aborted, awaited within the abort grace
        period (then cancelled), and their leases released."""
        self._stopped = True
        workers: list[LocalTaskWorker | GlobalTaskWorker] = [
            *self._local.values(),
            *self._global.values(),
        ]
        await asyncio.gather(*(worker.stop() for worker in workers), return_exceptions=True)
        self._janitor_wakeup.wake()
        if self._janitor is not None:
            await finish(self._janitor, 5)
