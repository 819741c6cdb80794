"""core.rootLifecycle and core.lifecycle: startup and shutdown hooks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from backstage_backend_plugin_api._services.logger import LoggerService

__all__ = ["LifecycleHook", "LifecycleService", "RootLifecycleService"]

LifecycleHook = Callable[[], Awaitable[None] | None]
"""A startup or shutdown hook: a function, sync or async, taking no arguments."""


class LifecycleService(Protocol):
    """Hooks of one plugin: startup hooks run after its init, shutdown hooks when it stops.

    Shutdown hooks run in the reverse order of registration. A failing hook is logged,
    never fatal.
    """

    def add_startup_hook(self, hook: LifecycleHook, *, logger: LoggerService | None = None) -> None:
        """Run `hook` once the plugin (for the root service: every plugin) has started.

        Args:
            hook: a function, sync or async, taking no arguments.
            logger: where its failure is logged; None: the service's own logger.
        """
        ...

    def add_shutdown_hook(
        self, hook: LifecycleHook, *, logger: LoggerService | None = None
    ) -> None:
        """Run `hook` when the plugin (for the root service: the backend) stops.

        Args:
            hook: a function, sync or async, taking no arguments.
            logger: where its failure is logged; None: the service's own logger.
        """
        ...


class RootLifecycleService(LifecycleService, Protocol):
    """Hooks of the whole backend: startup hooks run after every plugin has started."""

    def add_before_shutdown_hook(
        self, hook: LifecycleHook, *, logger: LoggerService | None = None
    ) -> None:
        """Run `hook` first at shutdown, once readiness reports 503, before anything stops.

        Args:
            hook: a function, sync or async, taking no arguments.
            logger: where its failure is logged; None: the service's own logger.
        """
        ...
