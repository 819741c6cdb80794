"""backstage_plugin_search_backend: the search plugin (`/api/search`).

`search_plugin()` answers Backstage's `GET /api/search/query` from an in-memory engine
(default) or a Postgres engine (`search.engine: postgres`), and indexes each document type
its collator modules register on a schedule. `search_module_catalog_collator()` indexes the
software catalog, read from the catalog plugin over HTTP.
"""

from backstage_backend_plugin_api import BackendModule, BackendPlugin

from backstage_plugin_search_backend._engines import PLUGIN_ID
from backstage_plugin_search_backend._indexing import index_task_id
from backstage_plugin_search_backend._plugin import search_plugin
from backstage_plugin_search_backend.catalog import search_module_catalog_collator
from backstage_plugin_search_backend.engines.memory import MemorySearchEngine
from backstage_plugin_search_backend.engines.postgres import PostgresSearchEngine

__all__ = [
    "PLUGIN_ID",
    "MemorySearchEngine",
    "PostgresSearchEngine",
    "index_task_id",
    "search_features",
    "search_module_catalog_collator",
    "search_plugin",
]


def search_features() -> list[BackendPlugin | BackendModule]:
    """The search plugin as a unit installs it: with the catalog collator."""
    return [search_plugin(), search_module_catalog_collator()]
