"""The catalog's REST API, wire-compatible with Backstage's `/api/catalog`."""

from backstage_plugin_catalog_backend.api._entities import entity_routes
from backstage_plugin_catalog_backend.api._locations import (
    LocationRoutesOptions,
    location_routes,
)
from backstage_plugin_catalog_backend.api._processing_routes import (
    DefaultLocationAnalyzer,
    processing_routes,
)

__all__ = [
    "DefaultLocationAnalyzer",
    "LocationRoutesOptions",
    "entity_routes",
    "location_routes",
    "processing_routes",
]
