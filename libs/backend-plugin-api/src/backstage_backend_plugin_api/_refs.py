"""Service references and extension points: typed ids that the backend resolves."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

__all__ = [
    "ExtensionPoint",
    "ServiceRef",
    "ServiceScope",
    "create_extension_point",
    "create_service_ref",
]

T = TypeVar("T")
ServiceScope = Literal["root", "plugin"]


@dataclass(frozen=True, eq=False)
class ServiceRef(Generic[T]):
    """A typed id of a service; `T` is the service's Protocol.

    `scope="root"`: one instance per backend. `scope="plugin"`: one instance per plugin.
    `multiton=True`: any number of factories; dependents receive a list of all instances.
    """

    id: str
    scope: ServiceScope = "plugin"
    multiton: bool = False
    default_factory: Any = None
    """A `ServiceFactory` used when the backend has no factory for this id."""

    def __str__(self) -> str:
        return f"serviceRef{{{self.id}}}"


@dataclass(frozen=True, eq=False)
class ExtensionPoint(Generic[T]):
    """A typed id of an extension point; `T` is the interface modules receive."""

    id: str

    def __str__(self) -> str:
        return f"extensionPoint{{{self.id}}}"


def create_service_ref(
    *,
    id: str,
    scope: ServiceScope = "plugin",
    multiton: bool = False,
    default_factory: Any = None,
) -> ServiceRef[T]:
    """Create a service reference. Annotate the result with its type::

    cache: ServiceRef[CacheService] = create_service_ref(id="core.cache")
    """
    if not id:
        raise ValueError("A service ref needs a non-empty id")
    if scope not in ("root", "plugin"):
        raise ValueError(f"Invalid scope '{scope}' for service ref '{id}', use 'root' or 'plugin'")
    return ServiceRef(id=id, scope=scope, multiton=multiton, default_factory=default_factory)


def create_extension_point(*, id: str) -> ExtensionPoint[T]:
    """Create an extension point reference. Annotate the result with its type::

    processing: ExtensionPoint[CatalogProcessingExtensionPoint] = create_extension_point(
        id="catalog.processing"
    )
    """
    if not id:
        raise ValueError("An extension point needs a non-empty id")
    return ExtensionPoint(id=id)
