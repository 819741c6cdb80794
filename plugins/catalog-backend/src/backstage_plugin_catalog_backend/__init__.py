"""backstage_plugin_catalog_backend: the software catalog plugin (`/api/catalog`)."""

from importlib.metadata import entry_points

from backstage_backend_plugin_api import BackendModule, BackendPlugin

from backstage_plugin_catalog_backend._plugin import MIGRATIONS, PLUGIN_ID, catalog_plugin

__all__ = [
    "CATALOG_MODULES_ENTRY_POINT_GROUP",
    "MIGRATIONS",
    "PLUGIN_ID",
    "catalog_features",
    "catalog_plugin",
]

CATALOG_MODULES_ENTRY_POINT_GROUP = "backstage.catalog.modules"
"""Catalog module packages register a function returning their module here."""


def catalog_features() -> list[BackendPlugin | BackendModule]:
    """The catalog plugin as a unit installs it: with every catalog module installed in the
    environment (entry-point group `backstage.catalog.modules`), so a unit hosting the
    catalog, whichever it is, runs its entity providers and event handlers. A provider
    module does nothing until its `catalog.providers` block is set."""
    modules = [ep.load()() for ep in entry_points(group=CATALOG_MODULES_ENTRY_POINT_GROUP)]
    return [catalog_plugin(), *sorted(modules, key=lambda module: module.module_id)]
