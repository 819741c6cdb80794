"""backstage_plugin_catalog_node: what other plugins and modules use of the catalog.

Extension points (processors, entity providers, URL readers, the location analyzer), the
types they exchange with the catalog's processing engine, and a typed client of the
catalog's REST API.
"""

from typing import Annotated, TypeAlias

from backstage_plugin_catalog_node._analyzer import LocationAnalyzer
from backstage_plugin_catalog_node._client import (
    CATALOG_FILTER_EXISTS,
    CatalogClient,
    EntityFilterQuery,
    EntityOrderField,
    FacetBucket,
    QueryEntitiesPage,
)
from backstage_plugin_catalog_node._extension_points import (
    CatalogAnalysisExtensionPoint,
    CatalogProcessingExtensionPoint,
    CatalogUrlReadersExtensionPoint,
    catalog_analysis_extension_point,
    catalog_processing_extension_point,
    catalog_url_readers_extension_point,
)
from backstage_plugin_catalog_node._processing import (
    CatalogProcessor,
    CatalogProcessorEmit,
    CatalogProcessorParser,
    EntityKindValidator,
    EntityPostProcessor,
    EntityPreProcessor,
    EntityRelationSpec,
    EntityResult,
    ErrorResult,
    LocationReader,
    LocationResult,
    LocationSpec,
    ProcessingResult,
    RefreshResult,
    RelationResult,
)
from backstage_plugin_catalog_node._provider_support import (
    location_spec_to_location_entity,
    schedule_provider_refresh,
)
from backstage_plugin_catalog_node._providers import (
    DeferredEntity,
    DeltaMutation,
    EntityProvider,
    EntityProviderConnection,
    EntityProviderMutation,
    FullMutation,
    RemovedEntityRef,
)
from backstage_plugin_catalog_node._scheduled_provider import (
    ScheduledEntityProvider,
    ScheduledProviderConfig,
)
from backstage_plugin_catalog_node._url_reader import ReadUrlResponse, UrlReader

CatalogProcessing: TypeAlias = Annotated[
    CatalogProcessingExtensionPoint, catalog_processing_extension_point
]
CatalogAnalysis: TypeAlias = Annotated[
    CatalogAnalysisExtensionPoint, catalog_analysis_extension_point
]
CatalogUrlReaders: TypeAlias = Annotated[
    CatalogUrlReadersExtensionPoint, catalog_url_readers_extension_point
]

__all__ = [
    "CATALOG_FILTER_EXISTS",
    "CatalogAnalysis",
    "CatalogAnalysisExtensionPoint",
    "CatalogClient",
    "CatalogProcessing",
    "CatalogProcessingExtensionPoint",
    "CatalogProcessor",
    "CatalogProcessorEmit",
    "CatalogProcessorParser",
    "CatalogUrlReaders",
    "CatalogUrlReadersExtensionPoint",
    "DeferredEntity",
    "DeltaMutation",
    "EntityFilterQuery",
    "EntityKindValidator",
    "EntityOrderField",
    "EntityPostProcessor",
    "EntityPreProcessor",
    "EntityProvider",
    "EntityProviderConnection",
    "EntityProviderMutation",
    "EntityRelationSpec",
    "EntityResult",
    "ErrorResult",
    "FacetBucket",
    "FullMutation",
    "LocationAnalyzer",
    "LocationReader",
    "LocationResult",
    "LocationSpec",
    "ProcessingResult",
    "QueryEntitiesPage",
    "ReadUrlResponse",
    "RefreshResult",
    "RelationResult",
    "RemovedEntityRef",
    "ScheduledEntityProvider",
    "ScheduledProviderConfig",
    "UrlReader",
    "catalog_analysis_extension_point",
    "catalog_processing_extension_point",
    "catalog_url_readers_extension_point",
    "location_spec_to_location_entity",
    "schedule_provider_refresh",
]
