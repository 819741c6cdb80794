"""backstage_plugin_catalog_backend: the software catalog plugin (`/api/catalog`)."""

from backstage_plugin_catalog_backend._plugin import MIGRATIONS, PLUGIN_ID, catalog_plugin

__all__ = ["MIGRATIONS", "PLUGIN_ID", "catalog_plugin"]
