"""The processing engine: processors, the orchestrator, catalog rules and the loop."""

from backstage_plugin_catalog_backend.processing._builtin_processors import (
    AnnotateLocationProcessor,
    BuiltinKindsProcessor,
    FileReaderProcessor,
    PlaceholderProcessor,
    UrlReaderProcessor,
)
from backstage_plugin_catalog_backend.processing._engine import (
    CatalogProcessingEngine,
    EngineOptions,
)
from backstage_plugin_catalog_backend.processing._entities import (
    entity_ref,
    location_entity,
    location_entity_ref,
    serialize_error,
)
from backstage_plugin_catalog_backend.processing._orchestrator import (
    Child,
    Orchestrator,
    ProcessingOutcome,
)
from backstage_plugin_catalog_backend.processing._rules import CatalogRules, resolve_target

__all__ = [
    "AnnotateLocationProcessor",
    "BuiltinKindsProcessor",
    "CatalogProcessingEngine",
    "CatalogRules",
    "Child",
    "EngineOptions",
    "FileReaderProcessor",
    "Orchestrator",
    "PlaceholderProcessor",
    "ProcessingOutcome",
    "UrlReaderProcessor",
    "entity_ref",
    "location_entity",
    "location_entity_ref",
    "resolve_target",
    "serialize_error",
]
