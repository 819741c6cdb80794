"""The root and plugin lifecycle services."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from backstage_backend_plugin_api import LifecycleHook, LoggerService

from backstage_backend_defaults.lifecycle._hooks import HookList

__all__ = ["BackendLifecycle", "PluginLifecycle"]


class PluginLifecycle:
    """A plugin's hooks. The backend calls `startup()` after the plugin's init."""

    def __init__(self, logger: LoggerService) -> None:
        self._startup = HookList("startup", logger)
        self._shutdown = HookList("shutdown", logger)
        self._started = asyncio.Event()

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
        await self._shutdown.run(reverse=True)


class BackendLifecycle(PluginLifecycle):
    """The root lifecycle; it also knows whether the backend is up or shutting down."""

    def __init__(self, logger: LoggerService, *, shutdown_delay: timedelta) -> None:
        super().__init__(logger)
        self._before_shutdown = HookList("before shutdown", logger)
        self._shutdown_delay = shutdown_delay
        self._shutting_down = False

    @property
    def started(self) -> bool:
        return self._started.is_set()

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    def add_before_shutdown_hook(
        self, hook: LifecycleHook, *, logger: LoggerService | None = None
    ) -> None:
        self._before_shutdown.add(hook, logger)

    async def before_shutdown(self) -> None:
        """Readiness turns 503 now; the delay lets load balancers notice before anything stops."""
        self._shutting_down = True
        if self._shutdown_delay > timedelta(0):
            await asyncio.sleep(self._shutdown_delay.total_seconds())
        await self._before_shutdown.run()
