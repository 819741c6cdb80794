"""A local task: runs in this process on its cadence, never overlapping, no coordination."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from backstage_backend_plugin_api import LoggerService, TaskFunction
from backstage_common.errors import ConflictError

from backstage_backend_defaults.scheduler._options import SchedulerOptions
from backstage_backend_defaults.scheduler._runs import (
    CANCELLED,
    SHUTDOWN,
    RunAborted,
    TaskRun,
    Wakeup,
    WorkerStatus,
    finish,
)
from backstage_backend_defaults.scheduler._settings import TaskSettings, next_cron_time
from backstage_backend_defaults.scheduler._store import serialize_error

__all__ = ["LocalTaskWorker"]


class LocalTaskWorker:
    """Runs after the initial delay, then again a period after the last run started (or
    at the next cron time); a manual task waits for `trigger()`."""

    def __init__(
        self,
        task_id: str,
        fn: TaskFunction,
        settings: TaskSettings,
        *,
        logger: LoggerService,
        options: SchedulerOptions,
    ) -> None:
        self.task_id = task_id
        self._fn = fn
        self._settings = settings
        self._logger = logger
        self._options = options
        self._wakeup = Wakeup()
        self._stopping = False
        self._run: TaskRun | None = None
        self._loop: asyncio.Task[None] | None = None
        self.status: WorkerStatus = "idle"
        self._state: dict[str, Any] = {"status": "idle"}
        self._last: dict[str, Any] = {}

    def start(self) -> None:
        self._logger.info(f"Registered scheduled task: {self.task_id}, {self._settings.to_json()}")
        if self._settings.is_manual:
            self._idle_until(None)
        elif self._settings.initial_delay is not None:
            self.status = "initial-wait"
            self._idle_until(self._settings.initial_delay.total_seconds())
        self._loop = asyncio.create_task(self._work(), name=f"task {self.task_id}")

    def task_state(self) -> dict[str, Any]:
        return {**self._state, **self._last}

    def trigger(self) -> None:
        if self._run is not None:
            raise ConflictError(f"Task {self.task_id} is currently running")
        self._wakeup.wake()

    def cancel(self) -> None:
        if self._run is None:
            raise ConflictError(f"Task {self.task_id} is not running")
        self._run.stop(CANCELLED)

    def _idle_until(self, seconds: float | None) -> None:
        state: dict[str, Any] = {"status": "idle"}
        if seconds is not None:
            state["startsAt"] = (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()
        self._state = state

    async def _work(self) -> None:
        delay = self._settings.initial_delay
        if self._settings.is_manual:
            await self._wakeup.sleep(None)
        elif delay is not None:
            await self._wakeup.sleep(delay.total_seconds())
        while not self._stopping:
            started = time.monotonic()
            await self._run_once()
            if self._stopping:
                break
            wait = self._seconds_to_next(time.monotonic() - started)
            self.status = "idle"
            self._idle_until(wait)
            await self._wakeup.sleep(wait)

    def _seconds_to_next(self, took: float) -> float | None:
        if self._settings.is_manual:
            return None
        period = self._settings.period
        if period is not None:
            return max(period.total_seconds() - took, 0.0)
        now = datetime.now(UTC)
        return max((next_cron_time(self._settings.cadence, now) - now).total_seconds(), 0.0)

    async def _run_once(self) -> None:
        run = TaskRun(self._fn, grace=self._options.abort_grace_period)
        self._run = run
        self.status = "running"
        now = datetime.now(UTC)
        self._state = {
            "status": "running",
            "startedAt": now.isoformat(),
            "timesOutAt": (now + self._settings.timeout).isoformat(),
        }
        error: BaseException | None = None
        try:
            await run.execute(self._settings.timeout)
        except RunAborted as aborted:
            error = aborted
            self._logger.warn(f"Task {self.task_id} was aborted, {aborted}")
        except Exception as failure:
            error = failure
            self._logger.error(f"Task {self.task_id} failed, {failure}", failure)
        finally:
            self._run = None
        self._last = {"lastRunEndedAt": datetime.now(UTC).isoformat()}
        if error is not None:
            self._last["lastRunError"] = serialize_error(error)

    async def stop(self) -> None:
        self._stopping = True
        if self._run is not None:
            self._run.stop(SHUTDOWN)
        self._wakeup.wake()
        if self._loop is not None:
            await finish(self._loop, self._options.abort_grace_period.total_seconds() + 5)
