"""Deployment units: which features a unit hosts and its config overlay.

A unit package declares a `Unit` and registers it under the `backstage.units` entry-point
group, so the CLI can start it by name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from importlib.resources.abc import Traversable
from pathlib import Path

from backstage_backend_plugin_api import BackendFeature
from backstage_common.errors import InputError

__all__ = ["UNIT_ENTRY_POINT_GROUP", "Unit", "available_units", "load_unit"]

UNIT_ENTRY_POINT_GROUP = "backstage.units"


@dataclass(frozen=True)
class Unit:
    """A deployment unit. `features` is called at start, so importing a unit stays cheap;
    `None` means the unit hosts what the topology (`deploy/topology.yaml`) gives it."""

    name: str
    features: Callable[[], Sequence[BackendFeature]] | None = None
    config_overlay: Path | Traversable | None = None


def available_units() -> list[str]:
    return sorted({ep.name for ep in entry_points(group=UNIT_ENTRY_POINT_GROUP)})


def load_unit(name: str, *, extra_names: Sequence[str] = ()) -> Unit:
    """The installed unit called `name`. A name among `extra_names` (the units a topology
    declares) without a package of its own is a bare unit: its plugins, no overlay.
    InputError listing the known units otherwise."""
    for ep in entry_points(group=UNIT_ENTRY_POINT_GROUP):
        if ep.name == name:
            unit = ep.load()
            if not isinstance(unit, Unit):
                raise InputError(f"Entry point '{ep.value}' for unit '{name}' is not a Unit")
            return unit
    if name in extra_names:
        return Unit(name=name)
    known = ", ".join(sorted({*available_units(), *extra_names})) or "none installed"
    raise InputError(f"Unknown unit '{name}', known units: {known}")
