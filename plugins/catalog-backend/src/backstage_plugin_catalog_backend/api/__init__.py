"""The catalog's REST API, wire-compatible with Backstage's `/api/catalog`."""

from backstage_plugin_catalog_backend.api._entities import entity_routes
from backstage_plugin_catalog_backend.api._locations import (
    DefaultLocationAnalyzer,
    LocationRoutesOptions,
    location_routes,
)

__all__ = ["DefaultLocationAnalyzer", "LocationRoutesOptions", "entity_routes", "location_routes"]
