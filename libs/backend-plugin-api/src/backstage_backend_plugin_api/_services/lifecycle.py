"""core.rootLifecycle and core.lifecycle: startup and shutdown hooks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from backstage_backend_plugin_api._services.logger import LoggerService

__all__ = ["LifecycleHook", "LifecycleService", "RootLifecycleService"]

LifecycleHook = Callable[[], Awaitable[None] | None]


class LifecycleService(Protocol):
    """Hooks of one plugin: startup hooks run after its init, shutdown hooks when it stops.

    Shutdown hooks run in the reverse order of registration. A failing hook is logged,
    never fatal.
    """

    def add_startup_hook(
        self, hook: LifecycleHook, *, logger: LoggerService | None = None
    ) -> None: ...

    def add_shutdown_hook(
        self, hook: LifecycleHook, *, logger: LoggerService | None = None
    ) -> None: ...


class RootLifecycleService(LifecycleService, Protocol):
    """Hooks of the whole backend: startup hooks run after every plugin has started."""

    def add_before_shutdown_hook(
        self, hook: LifecycleHook, *, logger: LoggerService | None = None
    ) -> None:
        """Runs first at shutdown, once readiness reports 503, before anything stops."""
        ...
