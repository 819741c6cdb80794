"""All entity read routes (and deletion by uid), for the plugin to mount."""

from __future__ import annotations

from typing import TYPE_CHECKING

from litestar.handlers import HTTPRouteHandler

from backstage_plugin_catalog_backend.api._by_query import by_query_routes
from backstage_plugin_catalog_backend.api._by_refs import by_refs_routes
from backstage_plugin_catalog_backend.api._expensive import ExpensiveReads
from backstage_plugin_catalog_backend.api._facets import facet_routes
from backstage_plugin_catalog_backend.api._list import list_routes
from backstage_plugin_catalog_backend.api._single import single_routes

if TYPE_CHECKING:  # the services import the storage modules of this package
    from backstage_plugin_catalog_backend.service import EntitiesCatalog

__all__ = ["entity_routes"]


def entity_routes(
    catalog: EntitiesCatalog, expensive: ExpensiveReads | None = None
) -> list[HTTPRouteHandler]:
    """`/entities`, `/entities/by-query`, `/entities/by-refs`, `/entities/by-uid/{uid}`,
    `/entities/by-name/{kind}/{namespace}/{name}[/ancestry]` and `/entity-facets`.

    Reads run without a transaction (autocommit, `catalog.reads`): each statement sees a
    consistent state of its own; the deletion runs in a transaction. Listings, by-query
    pages and facet counts take turns (`expensive`), so that cheap reads never wait behind
    hundreds of them.
    """
    expensive = expensive or ExpensiveReads()
    return [
        *expensive.limit(list_routes(catalog)),
        *expensive.limit(by_query_routes(catalog)),
        *by_refs_routes(catalog),
        *single_routes(catalog),
        *expensive.limit(facet_routes(catalog)),
    ]
