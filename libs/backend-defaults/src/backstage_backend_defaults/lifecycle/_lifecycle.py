"""The root and plugin lifecycle services."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

from backstage_backend_plugin_api import LifecycleHook, LoggerService

from backstage_backend_defaults.lifecycle._hooks import HookList

__all__ = ["BackendLifecycle", "PluginLifecycle"]


class PluginLifecycle:
    """A plugin's hooks. The backend calls `startup()` after the plugin's init.

    With a `root`, shutdown hooks share the backend's shutdown deadline.
    """

    def __init__(self, logger: LoggerService, *, root: BackendLifecycle | None = None) -> None:
        self._startup = HookList("startup", logger)
        self._shutdown = HookList("shutdown", logger)
        self._started = asyncio.Event()
        self._root = root

    def add_startup_hook(self, hook: LifecycleHook, *, logger: LoggerService | None = None) -> None:
        self._startup.add(hook, logger)

    def add_shutdown_hook(
        self, hook: LifecycleHook, *, logger: LoggerService | None = None
    ) -> None:
        self._shutdown.add(hook, logger)

    async def startup(self) -> None:
        await self._startup.run()
        self._started.set()

    async def shutdown(self) -> None:
        root = self._root if self._root is not None else self
        deadline = root.shutdown_deadline if isinstance(root, BackendLifecycle) else None
        await self._shutdown.run(reverse=True, deadline=deadline)


class BackendLifecycle(PluginLifecycle):
    """The root lifecycle; it also knows whether the backend is up or shutting down.

    Shutdown (after `serverShutdownDelay`) ends within `shutdown_timeout`: draining the
    requests in flight, then the plugins' and the root's shutdown hooks, share that time,
    and a shutdown hook still running at the deadline is cancelled. The database's hook closes its
    pools by force when cancelled, so a database that does not answer cannot hold it.
    """

    def __init__(
        self,
        logger: LoggerService,
        *,
        shutdown_delay: timedelta,
        shutdown_timeout: timedelta | None = None,
    ) -> None:
        super().__init__(logger)
        self._logger = logger
        self._before_shutdown = HookList("before shutdown", logger)
        self._shutdown_delay = shutdown_delay
        self._shutdown_timeout = shutdown_timeout
        self._shutting_down = False
        self._deadline: float | None = None
        self._deadline_callbacks: list[Callable[[], None]] = []

    @property
    def started(self) -> bool:
        return self._started.is_set()

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    @property
    def shutdown_deadline(self) -> float | None:
        """The event loop time by which shutdown hooks must be done (None: no limit)."""
        return self._deadline

    def add_before_shutdown_hook(
        self, hook: LifecycleHook, *, logger: LoggerService | None = None
    ) -> None:
        self._before_shutdown.add(hook, logger)

    def add_shutdown_deadline_callback(self, callback: Callable[[], None]) -> None:
        """`callback` runs when the shutdown deadline passes, with shutdown still under way
        (it must not wait: it is how work that would wait past the deadline is ended)."""
        self._deadline_callbacks.append(callback)

    def _deadline_passed(self) -> None:
        for callback in self._deadline_callbacks:
            try:
                callback()
            except Exception as error:
                self._logger.error(f"Shutdown deadline callback failed, {error}", error)

    async def before_shutdown(self) -> None:
        """Readiness turns 503 now; the delay lets load balancers notice before anything stops."""
        self._shutting_down = True
        if self._shutdown_delay > timedelta(0):
            await asyncio.sleep(self._shutdown_delay.total_seconds())
        if self._shutdown_timeout is not None and self._deadline is None:
            loop = asyncio.get_running_loop()
            self._deadline = loop.time() + self._shutdown_timeout.total_seconds()
            loop.call_at(self._deadline, self._deadline_passed)
        # not bounded here: the drain bounds itself by the same timeout, and must then
        # still stop the server
        await self._before_shutdown.run()
