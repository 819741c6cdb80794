"""The catalog's REST API, wire-compatible with Backstage's `/api/catalog`."""

from backstage_plugin_catalog_backend.api._entities import entity_routes

__all__ = ["entity_routes"]
