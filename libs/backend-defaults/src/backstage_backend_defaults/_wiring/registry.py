"""The service registry: which factory serves each ref, and each built instance."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Iterable, Sequence
from typing import Any

from backstage_backend_plugin_api import ServiceFactory, ServiceRef, core_services
from backstage_common.errors import ConflictError, InputError

from backstage_backend_defaults._wiring.errors import ServiceInstantiationError
from backstage_backend_defaults._wiring.graph import find_cycle

__all__ = ["PluginMetadata", "ServiceRegistry"]

_PLUGIN_METADATA_ID = core_services.plugin_metadata.id


class PluginMetadata:
    """The synthesized `core.pluginMetadata` of one plugin."""

    __slots__ = ("_plugin_id",)

    def __init__(self, plugin_id: str) -> None:
        self._plugin_id = plugin_id

    def get_id(self) -> str:
        return self._plugin_id


def _merge_factories(
    defaults: Sequence[ServiceFactory[Any]], explicit: Sequence[ServiceFactory[Any]]
) -> dict[str, list[ServiceFactory[Any]]]:
    chosen: dict[str, list[ServiceFactory[Any]]] = {}
    for factory in explicit:
        chosen.setdefault(factory.service.id, []).append(factory)
    duplicates = sorted(
        service_id
        for service_id, factories in chosen.items()
        if len(factories) > 1 and not factories[0].service.multiton
    )
    if duplicates:
        raise ConflictError(
            "Duplicate service implementations provided for "
            + ", ".join(f"'{service_id}'" for service_id in duplicates)
        )
    explicit_ids = set(chosen)
    for factory in defaults:
        if factory.service.id not in explicit_ids:
            chosen.setdefault(factory.service.id, []).append(factory)
    if _PLUGIN_METADATA_ID in chosen:
        raise InputError(f"The {_PLUGIN_METADATA_ID} service cannot be overridden")
    return chosen


class ServiceRegistry:
    """Builds services lazily, once per scope: once per backend or once per plugin."""

    def __init__(
        self,
        defaults: Sequence[ServiceFactory[Any]],
        explicit: Sequence[ServiceFactory[Any]] = (),
    ) -> None:
        self._factories = _merge_factories(defaults, explicit)
        self._instances: dict[tuple[int, str | None], asyncio.Future[Any]] = {}
        self._root_contexts: dict[int, asyncio.Future[Any]] = {}

    def check(self) -> None:
        """Refuse dependency cycles and root services that depend on plugin services."""
        edges: dict[str, set[str]] = {}
        for service_id, factories in self._factories.items():
            for factory in factories:
                deps = [*factory.deps.values(), *factory.root_context_deps.values()]
                edges.setdefault(service_id, set()).update(dep.id for dep in deps)
                if factory.service.scope == "root":
                    self._check_root_deps(factory, factory.deps.values())
                self._check_root_deps(factory, factory.root_context_deps.values(), "root context")
        cycle = find_cycle(edges)
        if cycle:
            path = " -> ".join(f"'{node}'" for node in cycle)
            raise ConflictError(f"Circular dependencies detected:\n  {path}")

    @staticmethod
    def _check_root_deps(
        factory: ServiceFactory[Any], deps: Iterable[ServiceRef[Any]], what: str = "root"
    ) -> None:
        for dep in deps:
            if dep.scope == "plugin":
                raise ServiceInstantiationError(
                    f"Failed to instantiate 'root' scoped service '{factory.service.id}' "
                    f"because its {what} depends on 'plugin' scoped service '{dep.id}'."
                    if what != "root"
                    else f"Failed to instantiate 'root' scoped service '{factory.service.id}' "
                    f"because it depends on 'plugin' scoped service '{dep.id}'."
                )

    def _factories_for(self, ref: ServiceRef[Any]) -> list[ServiceFactory[Any]]:
        factories = self._factories.get(ref.id)
        if factories:
            return factories
        if isinstance(ref.default_factory, ServiceFactory):
            return [ref.default_factory]
        return []

    def has(self, ref: ServiceRef[Any]) -> bool:
        return ref.id == _PLUGIN_METADATA_ID or ref.multiton or bool(self._factories_for(ref))

    def missing(self, refs: Iterable[ServiceRef[Any]]) -> list[ServiceRef[Any]]:
        return [ref for ref in refs if not self.has(ref)]

    def eager_factories(self, scope: str) -> list[ServiceFactory[Any]]:
        """Factories with `initialization="always"` in `scope`."""
        return [
            factory
            for factories in self._factories.values()
            for factory in factories
            if factory.service.scope == scope and factory.initialization == "always"
        ]

    async def get(self, ref: ServiceRef[Any], plugin_id: str | None) -> Any:
        """The instance of `ref` for `plugin_id` (None for root services)."""
        if ref.id == _PLUGIN_METADATA_ID:
            if plugin_id is None:
                raise ServiceInstantiationError(f"'{ref.id}' is only available to plugins")
            return PluginMetadata(plugin_id)
        factories = self._factories_for(ref)
        if ref.multiton:
            return [await self._instance(factory, plugin_id) for factory in factories]
        if not factories:
            raise ServiceInstantiationError(f"No service factory is installed for '{ref.id}'")
        return await self._instance(factories[0], plugin_id)

    def _instance(self, factory: ServiceFactory[Any], plugin_id: str | None) -> asyncio.Future[Any]:
        scope_key = None if factory.service.scope == "root" else plugin_id
        if factory.service.scope == "plugin" and plugin_id is None:
            raise ServiceInstantiationError(
                f"Plugin scoped service '{factory.service.id}' was requested outside a plugin"
            )
        key = (id(factory), scope_key)
        future = self._instances.get(key)
        if future is None:
            future = asyncio.ensure_future(self._create(factory, scope_key))
            self._instances[key] = future
        return future

    async def _resolve_deps(
        self, owner: str, deps: dict[str, ServiceRef[Any]], plugin_id: str | None
    ) -> dict[str, Any]:
        missing = self.missing(deps.values())
        if missing:
            names = ", ".join(f"'{ref.id}'" for ref in missing)
            raise ServiceInstantiationError(
                f"Failed to instantiate service {owner} because the following dependent "
                f"services are missing: {names}"
            )
        values = await asyncio.gather(*(self.get(ref, plugin_id) for ref in deps.values()))
        return dict(zip(deps, values, strict=True))

    async def _create(self, factory: ServiceFactory[Any], plugin_id: str | None) -> Any:
        service_id = factory.service.id
        owner = f"'{service_id}'" + (f" for '{plugin_id}'" if plugin_id else "")
        args: list[Any] = []
        if factory.create_root_context is not None:
            args.append(await self._root_context(factory))
        deps = await self._resolve_deps(owner, factory.deps, plugin_id)
        try:
            instance = factory.factory(*args, **deps)
            if inspect.isawaitable(instance):
                instance = await instance
        except ServiceInstantiationError:
            raise
        except Exception as error:
            raise ServiceInstantiationError(
                f"Failed to instantiate service {owner} because the factory function threw "
                f"an error, {type(error).__name__}: {error}"
            ) from error
        return instance

    def _root_context(self, factory: ServiceFactory[Any]) -> asyncio.Future[Any]:
        future = self._root_contexts.get(id(factory))
        if future is None:
            future = asyncio.ensure_future(self._create_root_context(factory))
            self._root_contexts[id(factory)] = future
        return future

    async def _create_root_context(self, factory: ServiceFactory[Any]) -> Any:
        assert factory.create_root_context is not None
        owner = f"'{factory.service.id}'"
        deps = await self._resolve_deps(owner, factory.root_context_deps, None)
        try:
            context = factory.create_root_context(**deps)
            if inspect.isawaitable(context):
                context = await context
        except Exception as error:
            raise ServiceInstantiationError(
                f"Failed to instantiate service {owner} because createRootContext threw an "
                f"error, {type(error).__name__}: {error}"
            ) from error
        return context
