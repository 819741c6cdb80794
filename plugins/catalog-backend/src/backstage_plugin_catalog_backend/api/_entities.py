"""All entity read routes (and deletion by uid), for the plugin to mount."""

from __future__ import annotations

from litestar.handlers import HTTPRouteHandler
from sqlalchemy.ext.asyncio import AsyncEngine

from backstage_plugin_catalog_backend.api._by_query import by_query_routes
from backstage_plugin_catalog_backend.api._by_refs import by_refs_routes
from backstage_plugin_catalog_backend.api._entity_texts import EntityTexts
from backstage_plugin_catalog_backend.api._expensive import ExpensiveReads
from backstage_plugin_catalog_backend.api._facets import facet_routes
from backstage_plugin_catalog_backend.api._list import list_routes
from backstage_plugin_catalog_backend.api._single import single_routes

__all__ = ["entity_routes"]


def entity_routes(
    engine: AsyncEngine, expensive: ExpensiveReads | None = None
) -> list[HTTPRouteHandler]:
    """`/entities`, `/entities/by-query`, `/entities/by-refs`, `/entities/by-uid/{uid}`,
    `/entities/by-name/{kind}/{namespace}/{name}[/ancestry]` and `/entity-facets`.

    Reads run without a transaction (autocommit): no BEGIN and ROLLBACK around every
    request, two round trips fewer on Postgres. Each statement sees a consistent state of
    its own; the deletion runs in a transaction. Listings, by-query pages and facet counts
    take turns (`expensive`), so that cheap reads never wait behind hundreds of them.
    """
    reads = engine.execution_options(isolation_level="AUTOCOMMIT")
    texts = EntityTexts(engine, reads)
    expensive = expensive or ExpensiveReads()
    return [
        *expensive.limit(list_routes(reads)),
        *expensive.limit(by_query_routes(reads)),
        *by_refs_routes(reads, texts),
        *single_routes(engine, reads, texts),
        *expensive.limit(facet_routes(reads)),
    ]
