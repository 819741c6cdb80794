"""Catalog processing: processors, the orchestrator, catalog rules and the processing loop."""

from backstage_plugin_catalog_backend.processing._builtin_processors import (
    AnnotateLocationProcessor,
    BuiltinKindsProcessor,
    FileReaderProcessor,
    PlaceholderProcessor,
)
from backstage_plugin_catalog_backend.processing._dry_run import dry_run
from backstage_plugin_catalog_backend.processing._entities import (
    entity_ref,
    location_entity,
    location_entity_ref,
    serialize_error,
)
from backstage_plugin_catalog_backend.processing._loop import ProcessingLoop, ProcessingOptions
from backstage_plugin_catalog_backend.processing._orchestrator import (
    Child,
    Orchestrator,
    ProcessingOutcome,
)
from backstage_plugin_catalog_backend.processing._refresh import schedule_refresh
from backstage_plugin_catalog_backend.processing._rules import CatalogRules, resolve_target
from backstage_plugin_catalog_backend.processing._url_locations import UrlReaderProcessor

__all__ = [
    "AnnotateLocationProcessor",
    "BuiltinKindsProcessor",
    "CatalogRules",
    "Child",
    "FileReaderProcessor",
    "Orchestrator",
    "PlaceholderProcessor",
    "ProcessingLoop",
    "ProcessingOptions",
    "ProcessingOutcome",
    "UrlReaderProcessor",
    "dry_run",
    "entity_ref",
    "location_entity",
    "location_entity_ref",
    "resolve_target",
    "schedule_refresh",
    "serialize_error",
]
