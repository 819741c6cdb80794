"""Features the test backend adds around the ones under test, as Backstage's does.

- a stub plugin for each module whose plugin is not installed (an "orphan" module);
- a module per plugin that registers the fake extension points its modules consume.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from backstage_backend_defaults import BackendFeature
from backstage_backend_plugin_api import (
    BackendModule,
    BackendPlugin,
    ExtensionPoint,
    PluginRegistrationPoints,
    create_backend_module,
    create_backend_plugin,
)
from backstage_common.errors import InputError

__all__ = ["EXTENSION_POINT_MODULE_ID", "extension_point_modules", "orphan_module_plugins"]

EXTENSION_POINT_MODULE_ID = "test-extension-point-registration"


async def _no_op() -> None:
    return None


def _register_nothing(reg: PluginRegistrationPoints) -> None:
    reg.register_init(_no_op)


def orphan_module_plugins(features: Sequence[BackendFeature]) -> list[BackendPlugin]:
    """An empty plugin for each plugin id that has modules among `features` but no plugin."""
    plugin_ids = {f.plugin_id for f in features if isinstance(f, BackendPlugin)}
    orphans = dict.fromkeys(
        f.plugin_id
        for f in features
        if isinstance(f, BackendModule) and f.plugin_id not in plugin_ids
    )
    return [
        create_backend_plugin(plugin_id=plugin_id, register=_register_nothing)
        for plugin_id in orphans
    ]


def _consumed_extension_points(module: BackendModule) -> list[str]:
    try:
        deps = module.get_registration().deps
    except Exception:
        # A module that fails to register fails again, properly reported, at backend start.
        return []
    return [dep.id for dep in deps.values() if isinstance(dep, ExtensionPoint)]


def extension_point_modules(
    features: Sequence[BackendFeature],
    extension_points: Sequence[tuple[ExtensionPoint[Any], Any]],
) -> list[BackendModule]:
    """Modules registering each fake extension point for the plugin whose modules use it.

    An extension point belongs to one plugin, and only that plugin's modules may use it;
    which plugin that is is learned from the modules under test that depend on it.
    """
    if not extension_points:
        return []
    fakes = {point.id: (point, impl) for point, impl in extension_points}
    unplaced = set(fakes)
    by_plugin: dict[str, list[str]] = {}
    for feature in features:
        if not isinstance(feature, BackendModule):
            continue
        for point_id in _consumed_extension_points(feature):
            if point_id in unplaced:
                by_plugin.setdefault(feature.plugin_id, []).append(point_id)
                unplaced.discard(point_id)
    if unplaced:
        listed = ", ".join(f"'{point_id}'" for point_id in sorted(unplaced))
        raise InputError(
            f"Unable to determine the plugin ID of extension point(s) {listed}. "
            "Tested extension points must be depended on by one or more tested modules."
        )

    def registrar(point_ids: list[str]) -> Callable[[PluginRegistrationPoints], None]:
        def register(reg: PluginRegistrationPoints) -> None:
            for point_id in point_ids:
                point, impl = fakes[point_id]
                reg.register_extension_point(point, impl)
            reg.register_init(_no_op)

        return register

    return [
        create_backend_module(
            plugin_id=plugin_id, module_id=EXTENSION_POINT_MODULE_ID, register=registrar(ids)
        )
        for plugin_id, ids in by_plugin.items()
    ]
