"""backstage_plugin_search_node: what other plugins and modules use of search.

Document and result types (the shapes of `@backstage/plugin-search-common`), the engine and
collator interfaces, page cursors, and the extension points through which modules add
collators (`search.index.registry`) or replace the engine (`search.engine.registry`).
"""

from backstage_plugin_search_node._collators import (
    DocumentCollatorFactory,
    DocumentDecoratorFactory,
)
from backstage_plugin_search_node._cursors import (
    DEFAULT_PAGE_LIMIT,
    MAX_PAGE,
    decode_page_cursor,
    encode_page_cursor,
    page_size,
)
from backstage_plugin_search_node._documents import (
    FilterValue,
    IndexableDocument,
    ResultHighlight,
    SearchQuery,
    SearchResult,
    SearchResultSet,
)
from backstage_plugin_search_node._engine import SearchEngine, SearchEngineIndexer
from backstage_plugin_search_node._extension_points import (
    SearchEngineRegistry,
    SearchEngineRegistryExtensionPoint,
    SearchIndexRegistry,
    SearchIndexRegistryExtensionPoint,
    search_engine_registry_extension_point,
    search_index_registry_extension_point,
)

__all__ = [
    "DEFAULT_PAGE_LIMIT",
    "MAX_PAGE",
    "DocumentCollatorFactory",
    "DocumentDecoratorFactory",
    "FilterValue",
    "IndexableDocument",
    "ResultHighlight",
    "SearchEngine",
    "SearchEngineIndexer",
    "SearchEngineRegistry",
    "SearchEngineRegistryExtensionPoint",
    "SearchIndexRegistry",
    "SearchIndexRegistryExtensionPoint",
    "SearchQuery",
    "SearchResult",
    "SearchResultSet",
    "decode_page_cursor",
    "encode_page_cursor",
    "page_size",
    "search_engine_registry_extension_point",
    "search_index_registry_extension_point",
]
