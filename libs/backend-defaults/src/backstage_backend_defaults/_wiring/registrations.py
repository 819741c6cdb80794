"""Collecting the plugins and modules of a backend, with their extension points."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from backstage_backend_plugin_api import (
    BackendModule,
    BackendPlugin,
    ExtensionPoint,
)
from backstage_backend_plugin_api._features import InitRegistration
from backstage_common.errors import ConflictError

from backstage_backend_defaults._wiring.errors import FeatureStartupFailure
from backstage_backend_defaults._wiring.graph import find_cycle

__all__ = ["ModuleEntry", "PluginEntry", "Registrations", "collect_registrations", "module_waves"]


@dataclass(frozen=True)
class ModuleEntry:
    module_id: str
    registration: InitRegistration


@dataclass
class PluginEntry:
    plugin_id: str
    registration: InitRegistration | None = None
    modules: dict[str, ModuleEntry] = field(default_factory=dict)
    extension_points: dict[str, Any] = field(default_factory=dict)
    """Implementations offered to this plugin's modules, by extension point id."""


@dataclass
class Registrations:
    plugins: dict[str, PluginEntry] = field(default_factory=dict)
    failures: list[FeatureStartupFailure] = field(default_factory=list)
    extension_point_owners: dict[str, str] = field(default_factory=dict)

    def entry(self, plugin_id: str) -> PluginEntry:
        return self.plugins.setdefault(plugin_id, PluginEntry(plugin_id))


def _offer(regs: Registrations, entry: PluginEntry, registration: InitRegistration) -> None:
    for offered in registration.extension_points:
        point: ExtensionPoint[Any] = offered.extension_point
        if point.id in regs.extension_point_owners:
            raise ConflictError(f"ExtensionPoint with ID '{point.id}' is already registered")
        regs.extension_point_owners[point.id] = entry.plugin_id
        entry.extension_points[point.id] = offered.impl


def collect_registrations(
    plugins: list[BackendPlugin], modules: list[BackendModule]
) -> Registrations:
    """Run every `register`; duplicates and registration errors become startup failures."""
    regs = Registrations()
    for plugin in plugins:
        entry = regs.entry(plugin.plugin_id)
        try:
            if entry.registration is not None:
                raise ConflictError(f"Plugin '{plugin.plugin_id}' is already registered")
            registration = plugin.get_registration()
            _offer(regs, entry, registration)
            entry.registration = registration
        except Exception as error:
            regs.failures.append(FeatureStartupFailure(plugin.plugin_id, None, error))
    for module in modules:
        entry = regs.entry(module.plugin_id)
        try:
            if module.module_id in entry.modules:
                raise ConflictError(
                    f"Module '{module.module_id}' for plugin '{module.plugin_id}' "
                    "is already registered"
                )
            registration = module.get_registration()
            _offer(regs, entry, registration)
            entry.modules[module.module_id] = ModuleEntry(module.module_id, registration)
        except Exception as error:
            regs.failures.append(FeatureStartupFailure(module.plugin_id, module.module_id, error))
    return regs


def module_waves(entry: PluginEntry) -> list[list[ModuleEntry]]:
    """Order a plugin's modules: one that offers an extension point runs after its consumers."""
    offers = {
        module_id: {p.extension_point.id for p in module.registration.extension_points}
        for module_id, module in entry.modules.items()
    }
    consumes = {
        module_id: {
            dep.id for dep in module.registration.deps.values() if isinstance(dep, ExtensionPoint)
        }
        for module_id, module in entry.modules.items()
    }
    after: dict[str, set[str]] = {
        module_id: {
            other for other in entry.modules if other != module_id and consumes[other] & offered
        }
        for module_id, offered in offers.items()
    }
    cycle = find_cycle(after)
    if cycle:
        path = " -> ".join(f"'{node}'" for node in cycle)
        raise ConflictError(
            f"Circular dependency detected for modules of plugin '{entry.plugin_id}', {path}"
        )
    waves: list[list[ModuleEntry]] = []
    done: set[str] = set()
    while len(done) < len(entry.modules):
        wave = sorted(m for m in entry.modules if m not in done and after[m] <= done)
        waves.append([entry.modules[m] for m in wave])
        done.update(wave)
    return waves
