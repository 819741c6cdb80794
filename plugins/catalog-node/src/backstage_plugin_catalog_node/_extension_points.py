"""The catalog's extension points, used by catalog modules (`create_backend_module`)."""

from __future__ import annotations

from typing import Protocol

from backstage_backend_plugin_api import ExtensionPoint, create_extension_point

from backstage_plugin_catalog_node._analyzer import LocationAnalyzer
from backstage_plugin_catalog_node._processing import CatalogProcessor
from backstage_plugin_catalog_node._providers import EntityProvider
from backstage_plugin_catalog_node._url_reader import UrlReader

__all__ = [
    "CatalogAnalysisExtensionPoint",
    "CatalogProcessingExtensionPoint",
    "CatalogUrlReadersExtensionPoint",
    "catalog_analysis_extension_point",
    "catalog_processing_extension_point",
    "catalog_url_readers_extension_point",
]


class CatalogProcessingExtensionPoint(Protocol):
    def add_processor(self, *processors: CatalogProcessor) -> None:
        """Run these after the built-in processors, in the order added."""
        ...

    def add_entity_provider(self, *providers: EntityProvider) -> None: ...


class CatalogAnalysisExtensionPoint(Protocol):
    def set_location_analyzer(self, analyzer: LocationAnalyzer) -> None:
        """Replace the default analyzer of `POST /analyze-location`."""
        ...


class CatalogUrlReadersExtensionPoint(Protocol):
    def add_reader(self, *readers: UrlReader) -> None:
        """Readers asked before the default HTTP(S) reader, in the order added."""
        ...


catalog_processing_extension_point: ExtensionPoint[CatalogProcessingExtensionPoint] = (
    create_extension_point(id="catalog.processing")
)
catalog_analysis_extension_point: ExtensionPoint[CatalogAnalysisExtensionPoint] = (
    create_extension_point(id="catalog.analysis")
)
catalog_url_readers_extension_point: ExtensionPoint[CatalogUrlReadersExtensionPoint] = (
    create_extension_point(id="catalog.urlReaders")
)
