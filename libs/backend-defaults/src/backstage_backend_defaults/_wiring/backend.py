"""The backend object users build, add features to, start and stop."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from backstage_backend_plugin_api import BackendFeature, ServiceFactory, ServiceRef

from backstage_backend_defaults._wiring.initializer import BackendInitializer

__all__ = ["Backend", "BackendFeature"]

T = TypeVar("T")


class Backend:
    """A set of features wired to service factories; one per process in production."""

    def __init__(self, default_factories: Sequence[ServiceFactory[Any]]) -> None:
        self._initializer = BackendInitializer(default_factories)

    def add(self, feature: BackendFeature) -> None:
        """Add a plugin, a module, or a service factory (which replaces the default)."""
        self._initializer.add(feature)

    async def start(self) -> None:
        """Start every plugin; on failure, stop what had started and raise."""
        try:
            await self._initializer.start()
        except BaseException:
            await self._initializer.stop()
            raise

    async def stop(self) -> None:
        """Shut down gracefully: readiness 503, drain, shutdown hooks. Idempotent."""
        await self._initializer.stop()

    async def get_service(self, ref: ServiceRef[T], plugin_id: str | None = None) -> T:
        """A service instance of the started backend (root services: no `plugin_id`)."""
        instance: T = await self._initializer.registry.get(ref, plugin_id)
        return instance
