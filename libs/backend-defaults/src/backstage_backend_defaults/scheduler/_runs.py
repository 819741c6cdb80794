"""One run of a task body, abortable, and the wake-up a worker sleeps on between runs."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Any, Literal

from backstage_backend_plugin_api import TaskFunction

__all__ = ["RunAborted", "TaskRun", "Wakeup", "WorkerStatus", "finish"]

WorkerStatus = Literal["initial-wait", "idle", "running"]

TIMED_OUT = "Task timed out"
CANCELLED = "Task was cancelled"
SHUTDOWN = "Task was aborted at shutdown"
LEASE_LOST = "Task lost its lease (cancelled or timed out elsewhere)"


class RunAborted(Exception):
    """The run did not return within the grace period after its abort and was cancelled."""


class TaskRun:
    """Runs `fn(abort)`; when the timeout passes or `stop()` is called, the abort event is
    set, and a body that has not returned within the grace period is cancelled."""

    def __init__(self, fn: TaskFunction, *, grace: timedelta) -> None:
        self._fn = fn
        self._grace = grace.total_seconds()
        self.abort = asyncio.Event()
        self.reason: str | None = None

    def stop(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason
        self.abort.set()

    async def execute(self, timeout: timedelta) -> None:
        """Return when the body returns; raise what it raised, or RunAborted."""
        body = asyncio.ensure_future(self._fn(self.abort))
        aborted = asyncio.ensure_future(self.abort.wait())
        try:
            done, _ = await asyncio.wait(
                {body, aborted}, timeout=timeout.total_seconds(), return_when="FIRST_COMPLETED"
            )
            if body not in done:
                self.stop(TIMED_OUT)
                done, _ = await asyncio.wait({body}, timeout=self._grace)
            if body not in done:
                body.cancel()
                # the body's end; a cancellation of the worker propagates at once
                await asyncio.wait({body})
                if not body.cancelled() and (error := body.exception()) is not None:
                    raise error
                raise RunAborted(self.reason or TIMED_OUT)
            await body
        finally:
            aborted.cancel()
            if not body.done():  # the worker itself is being cancelled
                body.cancel()


class Wakeup:
    """What a worker sleeps on: a timeout, or a trigger or stop that wakes it early."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def wake(self) -> None:
        self._event.set()

    async def sleep(self, seconds: float | None) -> None:
        """Sleep `seconds` (forever when None) unless woken first."""
        if seconds is not None and seconds <= 0:
            self._event.clear()
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._event.wait()
        self._event.clear()


async def finish(loop: asyncio.Task[Any], bound: float) -> None:
    """Wait for a worker's loop to end; cancel it past `bound` seconds."""
    done, _ = await asyncio.wait({loop}, timeout=bound)
    if loop not in done:
        loop.cancel()
    # its end, however it ends (the loop logged its failures); a cancellation of the
    # caller (the shutdown deadline) propagates at once
    await asyncio.wait({loop})
    if not loop.cancelled():
        loop.exception()
