"""The catalog's services, which the REST routes call (as in Backstage): separate from the
processing loop, over the catalog's storage, on the request pool."""

from backstage_plugin_catalog_backend.service._entities import EntitiesCatalog
from backstage_plugin_catalog_backend.service._locations import DryRun, LocationService
from backstage_plugin_catalog_backend.service._refresh import RefreshService

__all__ = ["DryRun", "EntitiesCatalog", "LocationService", "RefreshService"]
