"""Time limits for many cache calls with one timer.

`asyncio.timeout()` arms and cancels a timer for every call, several microseconds each: a
sizeable share of a memcached round trip on loopback. Here a call only records its deadline;
one sweep, every half timeout while calls are running, cancels the calls past theirs, which
then raise `TimeoutError`. A call so ends between one and one and a half timeouts.
"""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["Deadlines"]


class Deadlines:
    """Use as `task = deadlines.start()`, then the call in `try`, with
    `except CancelledError: deadlines.raise_if_expired(task); raise` and
    `finally: deadlines.finish(task)`."""

    __slots__ = ("_expired", "_running", "_sweep_handle", "timeout")

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._running: dict[asyncio.Task[Any], float] = {}
        self._expired: set[asyncio.Task[Any]] = set()
        self._sweep_handle: asyncio.TimerHandle | None = None

    def start(self) -> asyncio.Task[Any]:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("cache calls run inside a task")
        loop = task.get_loop()
        self._running[task] = loop.time() + self.timeout
        if self._sweep_handle is None:
            self._sweep_handle = loop.call_later(self.timeout / 2, self._sweep, loop)
        return task

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        for task, deadline in list(self._running.items()):
            if deadline <= now:
                del self._running[task]
                self._expired.add(task)
                task.cancel()
        self._sweep_handle = (
            loop.call_later(self.timeout / 2, self._sweep, loop) if self._running else None
        )

    def raise_if_expired(self, task: asyncio.Task[Any]) -> None:
        """In the call's `except CancelledError`: a cancellation made here becomes a
        `TimeoutError`; any other (the caller's own) goes on."""
        if task in self._expired:
            self._expired.discard(task)
            task.uncancel()
            raise TimeoutError(f"no answer within {self.timeout:g} s")

    def finish(self, task: asyncio.Task[Any]) -> None:
        self._running.pop(task, None)

    def close(self) -> None:
        if self._sweep_handle is not None:
            self._sweep_handle.cancel()
            self._sweep_handle = None
