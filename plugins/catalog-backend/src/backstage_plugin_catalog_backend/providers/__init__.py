"""Built-in entity providers: static config locations and registered locations."""

from backstage_plugin_catalog_backend.providers._config_locations import ConfigLocationProvider
from backstage_plugin_catalog_backend.providers._location_store import LocationRow, LocationStore

__all__ = ["ConfigLocationProvider", "LocationRow", "LocationStore"]
