"""Plugins by id: packages register their plugin under the `backstage.plugins` entry-point
group, so a unit hosts whatever the topology gives it without importing plugin code."""

from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import entry_points

from backstage_backend_plugin_api import (
    BackendFeature,
    BackendModule,
    BackendPlugin,
    ServiceFactory,
)
from backstage_common.errors import InputError

from backstage_cli.topology._model import Topology
from backstage_cli.units import Unit

__all__ = ["PLUGIN_ENTRY_POINT_GROUP", "installed_plugins", "load_plugin", "unit_features"]

PLUGIN_ENTRY_POINT_GROUP = "backstage.plugins"
_FEATURE_TYPES = (BackendPlugin, BackendModule, ServiceFactory)


def installed_plugins() -> list[str]:
    """The ids of the plugins installed in this environment."""
    return sorted({ep.name for ep in entry_points(group=PLUGIN_ENTRY_POINT_GROUP)})


def load_plugin(plugin_id: str, *, package: str | None = None) -> list[BackendFeature]:
    """The features registered as `<plugin_id> = "module:attr"`: a feature, or a function
    without arguments returning a feature or a list of them (a plugin with the modules it is
    installed with); InputError saying what to install when missing."""
    for ep in entry_points(group=PLUGIN_ENTRY_POINT_GROUP):
        if ep.name != plugin_id:
            continue
        target = ep.load()
        loaded = target if isinstance(target, _FEATURE_TYPES) else target()
        features = list(loaded) if isinstance(loaded, list | tuple) else [loaded]
        for feature in features:
            if not isinstance(feature, _FEATURE_TYPES):
                raise InputError(
                    f"Entry point '{ep.value}' for plugin '{plugin_id}' gives "
                    f"{type(feature).__name__}, not a backend feature"
                )
        return features
    hint = f"; install the package '{package}'" if package else ""
    installed = ", ".join(installed_plugins()) or "none"
    raise InputError(
        f"Plugin '{plugin_id}' is not installed: no entry point '{plugin_id}' in the group "
        f"'{PLUGIN_ENTRY_POINT_GROUP}'{hint} (installed plugins: {installed})"
    )


def unit_features(unit: Unit, topology: Topology | None) -> Sequence[BackendFeature]:
    """What `unit` hosts: the topology's plugins when the topology names the unit, else the
    unit package's own features."""
    if topology is not None and unit.name in topology.units:
        problems = topology.problems()
        if problems:
            raise InputError("Invalid topology: " + "; ".join(problems))
        return [
            feature
            for plugin_id in topology.units[unit.name].plugins
            for feature in load_plugin(plugin_id, package=topology.plugins[plugin_id].package)
        ]
    if unit.features is not None:
        return unit.features()
    if topology is None:
        raise InputError(
            f"Unit '{unit.name}' takes its plugins from the topology, and no topology file "
            "was found: pass --topology FILE, set BACKSTAGE_TOPOLOGY or run from the project "
            "folder (deploy/topology.yaml)"
        )
    known = ", ".join(topology.units)
    raise InputError(
        f"Unit '{unit.name}' takes its plugins from the topology, and {topology.source} has "
        f"no unit '{unit.name}' (units there: {known})"
    )
