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
"""`root`: one instance per backend. `plugin`: one instance per plugin."""


@dataclass(frozen=True, eq=False)
class ServiceRef(Generic[T]):
    """A typed id of a service; `T` is the service's Protocol. Create one with
    `create_service_ref`.

    Args:
        id: the service's id, e.g. `core.cache`.
        scope: `root` (one instance per backend) or `plugin` (one per plugin).
        multiton: any number of factories; dependents receive a list of all instances.
        default_factory: a `ServiceFactory` used when the backend has no factory for
            this id.
    """

    id: str
    scope: ServiceScope = "plugin"
    multiton: bool = False
    default_factory: Any = None

    def __str__(self) -> str:
        return f"serviceRef{{{self.id}}}"


@dataclass(frozen=True, eq=False)
class ExtensionPoint(Generic[T]):
    """A typed id of an extension point; `T` is the interface modules receive. Create one
    with `create_extension_point`.

    Args:
        id: the extension point's id, e.g. `catalog.processing`.
    """

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

    Args:
        id: the service's id, unique in the backend, e.g. `myplugin.client`.
        scope: `plugin` (one instance per plugin, the default) or `root` (one instance
            per backend).
        multiton: any number of factories may be added; dependents receive a list of
            every instance.
        default_factory: the `ServiceFactory` used when the backend is given none.
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

    Args:
        id: the extension point's id, unique in the backend, by convention
            `<pluginId>.<name>`.
    """
    if not id:
        raise ValueError("An extension point needs a non-empty id")
    return ExtensionPoint(id=id)
