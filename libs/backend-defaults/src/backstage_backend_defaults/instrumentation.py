"""The seam between the core services and whatever observes them (telemetry).

A core service that can be observed declares a `HookPoint` in its own package, typed by the
protocol it calls (the HTTP router's `REQUEST_HOOKS`, the database's `DATABASE_HOOKS`, ...),
and reads it once, when it is created, from the backend's `Instrumentation` service. The
telemetry service is that service: it registers its hooks on the points of the signals that
are on. With nothing registered a service takes its plain code path, and the services never
import telemetry.
"""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeAlias, TypeVar

from backstage_backend_plugin_api import ServiceRef, create_service_ref

__all__ = [
    "HookPoint",
    "Instrumentation",
    "InstrumentationDep",
    "instrumentation_service_ref",
]

T = TypeVar("T")


class HookPoint(Generic[T]):
    """A place where a core service accepts hooks of type `T`.

    Args:
        id: The point's name, for messages (`"httpRouter.requests"`).
    """

    __slots__ = ("id",)

    def __init__(self, id: str) -> None:
        self.id = id

    def __repr__(self) -> str:
        return f"HookPoint({self.id!r})"


class Instrumentation:
    """The hooks registered on the core services' hook points; none by default."""

    def __init__(self) -> None:
        self._hooks: dict[HookPoint[Any], Any] = {}

    def register(self, point: HookPoint[T], hooks: T) -> None:
        """Register `hooks` on `point`, replacing what was registered there.

        Args:
            point: The hook point, as the service declares it.
            hooks: What the service calls there.
        """
        self._hooks[point] = hooks

    def get(self, point: HookPoint[T]) -> T | None:
        """The hooks registered on `point`, or None.

        Args:
            point: The hook point, as the service declares it.
        """
        hooks: T | None = self._hooks.get(point)
        return hooks


instrumentation_service_ref: ServiceRef[Instrumentation] = create_service_ref(
    id="backstage-py.instrumentation", scope="root"
)
"""The backend's instrumentation, a root service (provided by the telemetry service)."""

InstrumentationDep: TypeAlias = Annotated[Instrumentation, instrumentation_service_ref]
"""A factory parameter annotated with this receives the backend's `Instrumentation`."""
