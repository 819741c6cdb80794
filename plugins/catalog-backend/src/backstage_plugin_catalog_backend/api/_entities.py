"""All entity read routes (and deletion by uid), for the plugin to mount."""

from __future__ import annotations

from typing import TYPE_CHECKING

from backstage_backend_plugin_api import HttpAuthService
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
    catalog: EntitiesCatalog, http_auth: HttpAuthService, expensive: ExpensiveReads | None = None
) -> list[HTTPRouteHandler]:
    """`/entities`, `/entities/by-query`, `/entities/by-refs`, `/entities/by-uid/{uid}`,
    `/entities/by-name/{kind}/{namespace}/{name}[/ancestry]` and `/entity-facets`.

    Reads run without a transaction (autocommit, `catalog.reads`): each statement sees a
    consistent state of its own; the deletion runs in a transaction. Listings, by-query
    pages and facet counts take turns (`expensive`), so that cheap reads never wait behind
    hundreds of them. Each passes the caller's credentials (`http_auth`) to the service,
    which reads only what the caller may read.
    """
    expensive = expensive or ExpensiveReads()
    return [
        *expensive.limit(list_routes(catalog, http_auth)),
        *expensive.limit(by_query_routes(catalog, http_auth)),
        *by_refs_routes(catalog, http_auth),
        *single_routes(catalog, http_auth),
        *expensive.limit(facet_routes(catalog, http_auth)),
    ]
