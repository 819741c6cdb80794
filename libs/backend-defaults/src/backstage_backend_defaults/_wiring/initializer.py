"""Starting and stopping a backend: services, plugin and module inits, lifecycle hooks."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from backstage_backend_plugin_api import (
    BackendModule,
    BackendPlugin,
    ExtensionPoint,
    LoggerService,
    ServiceFactory,
    ServiceRef,
    core_services,
)
from backstage_backend_plugin_api._features import InitRegistration
from backstage_common.errors import InputError

from backstage_backend_defaults._wiring.errors import (
    BackendStartupError,
    FeatureStartupFailure,
    ServiceInstantiationError,
)
from backstage_backend_defaults._wiring.policy import BootFailurePolicy
from backstage_backend_defaults._wiring.registrations import (
    PluginEntry,
    Registrations,
    collect_registrations,
    module_waves,
)
from backstage_backend_defaults._wiring.registry import ServiceRegistry

__all__ = ["BackendInitializer"]


@runtime_checkable
class _ManagedLifecycle(Protocol):
    async def startup(self) -> None: ...

    async def shutdown(self) -> None: ...


@runtime_checkable
class _ManagedRootLifecycle(_ManagedLifecycle, Protocol):
    async def before_shutdown(self) -> None: ...


class _ModuleFailedError(Exception):
    pass


class BackendInitializer:
    """Runs the startup algorithm once, and the shutdown algorithm once."""

    def __init__(self, defaults: Sequence[ServiceFactory[Any]]) -> None:
        self._defaults = list(defaults)
        self._features: list[BackendPlugin | BackendModule | ServiceFactory[Any]] = []
        self._registry: ServiceRegistry | None = None
        self._started_plugins: list[str] = []
        self._plugin_ids: list[str] = []
        self._start_task: asyncio.Task[None] | None = None
        self._stopped = False

    def add(self, feature: BackendPlugin | BackendModule | ServiceFactory[Any]) -> None:
        if self._start_task is not None:
            raise InputError("feature can not be added after the backend has started")
        if not isinstance(feature, BackendPlugin | BackendModule | ServiceFactory):
            raise InputError(
                f"features[{len(self._features)}] is not a backend feature: {feature!r}; "
                "use create_backend_plugin, create_backend_module or create_service_factory"
            )
        self._features.append(feature)

    @property
    def registry(self) -> ServiceRegistry:
        if self._registry is None:
            raise InputError("The backend has not been started")
        return self._registry

    async def start(self) -> None:
        if self._stopped:
            raise InputError("Backend has already stopped")
        if self._start_task is not None:
            raise InputError("Backend has already started")
        self._start_task = asyncio.ensure_future(self._start())
        await self._start_task

    async def _start(self) -> None:
        factories = [f for f in self._features if isinstance(f, ServiceFactory)]
        registry = ServiceRegistry(self._defaults, factories)
        registry.check()
        self._registry = registry
        regs = collect_registrations(
            [f for f in self._features if isinstance(f, BackendPlugin)],
            [f for f in self._features if isinstance(f, BackendModule)],
        )
        for factory in registry.eager_factories("root"):
            await registry.get(factory.service, None)
        config = await registry.get(core_services.root_config, None)
        logger: LoggerService = await registry.get(core_services.root_logger, None)
        policy = BootFailurePolicy(config)
        self._plugin_ids = list(regs.plugins)

        results = await asyncio.gather(
            *(self._start_plugin(entry, regs, policy, logger) for entry in regs.plugins.values())
        )
        failures = [*regs.failures, *(failure for result in results for failure in result)]
        fatal = [failure for failure in failures if self._is_fatal(failure, policy)]
        for failure in failures:
            if failure not in fatal:
                logger.error(f"{failure.describe()}; continuing as configured", failure.error)
        if fatal:
            raise BackendStartupError(fatal)
        root_lifecycle = await registry.get(core_services.root_lifecycle, None)
        if isinstance(root_lifecycle, _ManagedLifecycle):
            await root_lifecycle.startup()
        logger.info("Backend started", {"plugins": sorted(self._started_plugins)})

    @staticmethod
    def _is_fatal(failure: FeatureStartupFailure, policy: BootFailurePolicy) -> bool:
        if failure.module_id is None:
            return policy.plugin(failure.plugin_id) == "abort"
        return policy.module(failure.plugin_id, failure.module_id) == "abort"

    async def _start_plugin(
        self,
        entry: PluginEntry,
        regs: Registrations,
        policy: BootFailurePolicy,
        logger: LoggerService,
    ) -> list[FeatureStartupFailure]:
        plugin_id = entry.plugin_id
        failures: list[FeatureStartupFailure] = []
        try:
            if entry.registration is None and not any(
                f.plugin_id == plugin_id and f.module_id is None for f in regs.failures
            ):
                raise InputError(
                    f"the plugin '{plugin_id}' is not installed in this backend; "
                    "add the plugin or remove its modules"
                )
            registry = self.registry
            for factory in registry.eager_factories("plugin"):
                await registry.get(factory.service, plugin_id)
            for wave in module_waves(entry):
                results = await asyncio.gather(
                    *(self._init(m.registration, entry, regs, m.module_id) for m in wave),
                    return_exceptions=True,
                )
                for module, result in zip(wave, results, strict=True):
                    if isinstance(result, BaseException):
                        failure = FeatureStartupFailure(plugin_id, module.module_id, result)
                        failures.append(failure)
                        if policy.module(plugin_id, module.module_id) == "abort":
                            raise _ModuleFailedError()
            if entry.registration is None:
                return failures
            await self._init(entry.registration, entry, regs, None)
            lifecycle = await registry.get(core_services.lifecycle, plugin_id)
            if isinstance(lifecycle, _ManagedLifecycle):
                await lifecycle.startup()
            self._started_plugins.append(plugin_id)
        except _ModuleFailedError:
            pass
        except Exception as error:
            if entry.registration is None:
                failures.extend(
                    FeatureStartupFailure(plugin_id, module_id, error)
                    for module_id in entry.modules
                )
            else:
                failures.append(FeatureStartupFailure(plugin_id, None, error))
        return failures

    async def _init(
        self,
        registration: InitRegistration,
        entry: PluginEntry,
        regs: Registrations,
        module_id: str | None,
    ) -> None:
        owner = (
            f"plugin '{entry.plugin_id}'"
            if module_id is None
            else f"module '{module_id}' for plugin '{entry.plugin_id}'"
        )
        services: dict[str, ServiceRef[Any]] = {}
        values: dict[str, Any] = {}
        missing: list[str] = []
        for name, dep in registration.deps.items():
            if isinstance(dep, ServiceRef):
                services[name] = dep
                if not self.registry.has(dep):
                    missing.append(str(dep))
                continue
            values[name] = self._extension_point(dep, entry, regs, module_id, missing)
        if missing:
            raise ServiceInstantiationError(
                f"Service or extension point dependencies of {owner} are missing for the "
                f"following ref(s): {', '.join(missing)}"
            )
        resolved = await asyncio.gather(
            *(self.registry.get(ref, entry.plugin_id) for ref in services.values())
        )
        values.update(zip(services, resolved, strict=True))
        await registration.init(**values)

    @staticmethod
    def _extension_point(
        point: ExtensionPoint[Any],
        entry: PluginEntry,
        regs: Registrations,
        module_id: str | None,
        missing: list[str],
    ) -> Any:
        if module_id is None:
            raise InputError(
                f"Rejected dependency on extension point {point.id} from outside of a module"
            )
        if point.id in entry.extension_points:
            return entry.extension_points[point.id]
        owner = regs.extension_point_owners.get(point.id)
        if owner is not None:
            raise InputError(
                f"Illegal dependency: Module '{module_id}' for plugin '{entry.plugin_id}' "
                f"attempted to depend on extension point '{point.id}' for plugin '{owner}'. "
                "Extension points can only be used within their plugin's scope."
            )
        missing.append(str(point))
        return None

    async def stop(self) -> None:
        """Readiness 503, drain, plugin shutdown hooks, then root shutdown hooks. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        if self._start_task is not None and not self._start_task.done():
            # Stopping during startup abandons the startup (e.g. SIGTERM while an init hangs).
            self._start_task.cancel()
            await asyncio.wait([self._start_task])
        registry = self._registry
        if registry is None:
            return
        root_lifecycle = None
        if registry.has(core_services.root_lifecycle):
            try:
                root_lifecycle = await registry.get(core_services.root_lifecycle, None)
            except Exception:
                root_lifecycle = None
        if isinstance(root_lifecycle, _ManagedRootLifecycle):
            await root_lifecycle.before_shutdown()
        await asyncio.gather(
            *(self._stop_plugin(registry, plugin_id) for plugin_id in self._plugin_ids)
        )
        if isinstance(root_lifecycle, _ManagedLifecycle):
            await root_lifecycle.shutdown()

    @staticmethod
    async def _stop_plugin(registry: ServiceRegistry, plugin_id: str) -> None:
        try:
            lifecycle = await registry.get(core_services.lifecycle, plugin_id)
        except Exception:
            return  # the plugin never got a lifecycle, so it registered no hooks
        if isinstance(lifecycle, _ManagedLifecycle):
            await lifecycle.shutdown()
