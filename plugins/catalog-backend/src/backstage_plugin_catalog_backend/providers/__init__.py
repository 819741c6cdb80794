"""Built-in entity providers (static config locations and registered locations), and the
database through which providers write."""

from backstage_plugin_catalog_backend.providers._config_locations import ConfigLocationProvider
from backstage_plugin_catalog_backend.providers._database import (
    ProviderDatabase,
    ProviderTransaction,
    connect_providers,
)
from backstage_plugin_catalog_backend.providers._location_store import LocationRow, LocationStore

__all__ = [
    "ConfigLocationProvider",
    "LocationRow",
    "LocationStore",
    "ProviderDatabase",
    "ProviderTransaction",
    "connect_providers",
]
