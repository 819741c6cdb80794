"""A global task: one run per due time across every replica, coordinated in the database."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable

from backstage_backend_plugin_api import LoggerService, TaskFunction

from backstage_backend_defaults.scheduler._options import SchedulerOptions
from backstage_backend_defaults.scheduler._runs import (
    LEASE_LOST,
    SHUTDOWN,
    RunAborted,
    TaskRun,
    Wakeup,
    WorkerStatus,
    finish,
)
from backstage_backend_defaults.scheduler._settings import TaskSettings
from backstage_backend_defaults.scheduler._store import Claim, TaskGone, TaskStore

__all__ = ["GlobalTaskWorker"]


class GlobalTaskWorker:
    """Polls the task's row; the worker whose conditional update claims the due run runs
    it, checks its lease while running, and releases it with the next due time."""

    def __init__(
        self,
        task_id: str,
        fn: TaskFunction,
        settings: TaskSettings,
        *,
        store: Callable[[], Awaitable[TaskStore]],
        logger: LoggerService,
        options: SchedulerOptions,
    ) -> None:
        self.task_id = task_id
        self._fn = fn
        self._settings = settings
        self._store = store
        self._logger = logger
        self._options = options
        self._wakeup = Wakeup()
        self._stopping = False
        self._run: TaskRun | None = None
        self._loop: asyncio.Task[None] | None = None
        self.status: WorkerStatus = "idle"
        self._polled = asyncio.Event()

    def _poll_seconds(self) -> float:
        poll = self._options.poll_interval
        period = self._settings.period
        return (poll if period is None else min(poll, period)).total_seconds()

    async def start(self) -> None:
        store = await self._store()
        await store.register(self.task_id, self._settings)
        self._logger.info(f"Registered scheduled task: {self.task_id}, {self._settings.to_json()}")
        if not self._options.run_global_tasks:
            # the row is there for triggers and the task list; another process runs it
            return
        if self._settings.initial_delay is not None:
            self.status = "initial-wait"
        self._loop = asyncio.create_task(self._work(store), name=f"task {self.task_id}")

    async def polled(self, times: int = 1) -> None:
        """Return once this worker has looked for a due run `times` more times."""
        for _ in range(times):
            await self._polled.wait()

    def wake(self) -> None:
        """Look for a due run now rather than at the next poll."""
        self._wakeup.wake()

    def abort_run(self, reason: str) -> bool:
        """Abort the run in progress here; False when this worker is not running it."""
        if self._run is None:
            return False
        self._run.stop(reason)
        return True

    async def _work(self, store: TaskStore) -> None:
        if self._settings.initial_delay is not None:
            await self._wakeup.sleep(self._settings.initial_delay.total_seconds())
        self.status = "idle"
        while not self._stopping:
            try:
                await self._run_once(store)
            except TaskGone as gone:
                self._logger.info(f"Task worker finished: {self.task_id}, {gone}")
                return
            except Exception as error:
                self._logger.warn(f"Task worker {self.task_id} failed unexpectedly", error)
            self._polled.set()
            self._polled = asyncio.Event()
            if not self._stopping:
                await self._wakeup.sleep(self._poll_seconds())

    async def _run_once(self, store: TaskStore) -> None:
        claim = await store.try_claim(self.task_id, str(uuid.uuid4()))
        if claim is None:
            return
        if self._stopping:  # stopped while claiming: leave the run to another replica
            await store.unclaim(self.task_id, claim)
            return
        run = TaskRun(self._fn, grace=self._options.abort_grace_period)
        self._run = run
        self.status = "running"
        ended = asyncio.Event()
        liveness = asyncio.create_task(self._check_lease(store, claim, run, ended))
        error: BaseException | None = None
        try:
            await run.execute(claim.settings.timeout)
        except RunAborted as aborted:
            error = aborted
        except Exception as failure:
            error = failure
            self._logger.error(f"Task {self.task_id} failed, {failure}", failure)
        finally:
            # Never cancelled mid-query: that would cost the pool its connection, and an
            # in-memory SQLite database its data.
            ended.set()
            await asyncio.shield(liveness)
            self._run = None
            self.status = "idle"
        if isinstance(error, RunAborted):
            self._logger.warn(f"Task {self.task_id} was aborted, {error}")
        # A run cut short by shutdown stays due, so another replica runs it at once.
        interrupted = run.reason == SHUTDOWN
        await store.release(
            self.task_id,
            claim,
            error=error if error is not None or not interrupted else SHUTDOWN,
            keep_next_run=interrupted,
        )

    async def _check_lease(
        self, store: TaskStore, claim: Claim, run: TaskRun, ended: asyncio.Event
    ) -> None:
        """Abort the run once its lease is gone (cancelled or expired elsewhere)."""
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._options.poll_interval.total_seconds()):
                    await ended.wait()
            if ended.is_set():
                return
            try:
                held = await store.holds(self.task_id, claim.ticket)
            except Exception as error:
                self._logger.warn(f"Failed to check the lease of task {self.task_id}", error)
                continue
            if not held:
                self._logger.info(f"Task {self.task_id} lost its lease; aborting the run")
                run.stop(LEASE_LOST)
                return

    async def stop(self) -> None:
        """Abort a run in progress, wait for it to end and be released, stop polling."""
        self._stopping = True
        self.abort_run(SHUTDOWN)
        self._wakeup.wake()
        if self._loop is not None:
            await finish(self._loop, self._options.abort_grace_period.total_seconds() + 5)
