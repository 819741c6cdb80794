"""Service factories: how a service ref gets its implementation."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from backstage_backend_plugin_api._injection import read_dependencies
from backstage_backend_plugin_api._refs import ServiceRef

__all__ = ["ServiceFactory", "ServiceInitialization", "create_service_factory"]

T = TypeVar("T")
ServiceInitialization = Literal["always", "lazy"]

FactoryFn = Callable[..., T | Awaitable[T]]


@dataclass(frozen=True, eq=False)
class ServiceFactory(Generic[T]):
    """Ties a service ref to its implementation and its dependencies; create one with
    `create_service_factory`.

    When `create_root_context` is set, it runs once per backend (it may depend on root
    services only) and its result is passed as the first argument of `factory`, which runs
    once per plugin: this is how a per-backend manager hands each plugin its own view.

    Args:
        service: the ref of the service it implements.
        factory: builds the service (sync or async).
        deps: the services `factory` depends on, read from its `Annotated` parameters.
        create_root_context: builds the per-backend context, if any.
        root_context_deps: the services `create_root_context` depends on.
        initialization: `always` to build the service even when nothing depends on it,
            `lazy` (the default) to build it on first use.
    """

    service: ServiceRef[T]
    factory: FactoryFn[T]
    deps: dict[str, ServiceRef[Any]]
    create_root_context: Callable[..., Any] | None = None
    root_context_deps: dict[str, ServiceRef[Any]] = field(default_factory=dict)
    initialization: ServiceInitialization = "lazy"

    def __str__(self) -> str:
        return f"serviceFactory{{{self.service.id}}}"


def _service_deps(fn: Callable[..., Any], *, skip_first: bool) -> dict[str, ServiceRef[Any]]:
    deps = read_dependencies(fn, skip_first=skip_first)
    services: dict[str, ServiceRef[Any]] = {}
    for name, dep in deps.items():
        if not isinstance(dep, ServiceRef):
            raise TypeError(
                f"Service factories can only depend on services, but parameter '{name}' of "
                f"{getattr(fn, '__qualname__', fn)} asks for {dep}"
            )
        services[name] = dep
    return services


def create_service_factory(
    *,
    service: ServiceRef[T],
    factory: FactoryFn[T],
    create_root_context: Callable[..., Any] | None = None,
    initialization: ServiceInitialization = "lazy",
) -> ServiceFactory[T]:
    """Create a factory for `service`; add it to a backend to replace the default one.

    A root-scoped service may only depend on root-scoped services; the backend checks it
    at start.

    Args:
        service: the ref of the service it implements.
        factory: builds the service, sync or async; its parameters are its dependencies,
            each annotated with a service ref (e.g. `config: core_services.RootConfig`).
            With `create_root_context`, its first parameter receives the root context.
        create_root_context: for a plugin-scoped service, builds a context once per
            backend (from root services only) that every plugin's `factory` call receives.
        initialization: `always` builds the service for every plugin (or, for a root
            service, at start) even when nothing depends on it; `lazy` on first use.
    """
    if create_root_context is not None and service.scope == "root":
        raise TypeError(
            f"Root scoped service '{service.id}' cannot have a root context; "
            "create_root_context is for plugin scoped services"
        )
    return ServiceFactory(
        service=service,
        factory=factory,
        deps=_service_deps(factory, skip_first=create_root_context is not None),
        create_root_context=create_root_context,
        root_context_deps=(
            _service_deps(create_root_context, skip_first=False) if create_root_context else {}
        ),
        initialization=initialization,
    )
