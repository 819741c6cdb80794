"""The `all` deployment unit: every plugin in one process, the local default."""

from __future__ import annotations

from collections.abc import Sequence
from importlib.resources import files

from backstage_backend_defaults import BackendFeature
from backstage_backend_defaults.units import Unit

__all__ = ["features", "unit"]


def features() -> Sequence[BackendFeature]:
    """The plugins this unit hosts; plugin packages are added here as they arrive."""
    return []


unit = Unit(
    name="all",
    features=features,
    config_overlay=files(__package__) / "app-config.all.yaml",
)
