"""`GET` and `POST /entity-facets`: value counts per facet, in one grouped query that
identical requests share while the catalog stands still (`_facet_counts`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import msgspec
from backstage_backend_plugin_api import BackstageCredentials, HttpAuthService
from backstage_common.errors import InputError
from backstage_plugin_catalog_common import Predicate, parse_entity_filter, parse_predicate
from litestar import Request, Response, get, post
from litestar.handlers import HTTPRouteHandler

from backstage_plugin_catalog_backend.api._body import read_json_object
from backstage_plugin_catalog_backend.api._input import MAX_FACETS, check_count
from backstage_plugin_catalog_backend.api._params import QueryParams
from backstage_plugin_catalog_backend.api._responses import json_response

if TYPE_CHECKING:  # the services import the storage modules of this package
    from backstage_plugin_catalog_backend.service import EntitiesCatalog

__all__ = ["facet_routes"]

_encode = msgspec.json.encode


async def _facets(
    catalog: EntitiesCatalog,
    facets: Sequence[str],
    predicate: Predicate | None,
    credentials: BackstageCredentials[Any],
) -> Response[bytes]:
    check_count(len(set(facets)), MAX_FACETS, "facets")
    rows = await catalog.facets(facets, predicate, credentials)
    by_key: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for key, value, count in rows:
        by_key[key].append({"value": value, "count": count})
    body = {"facets": {facet: by_key.get(facet.lower(), []) for facet in facets}}
    return json_response(_encode(body).decode())


def facet_routes(catalog: EntitiesCatalog, http_auth: HttpAuthService) -> list[HTTPRouteHandler]:
    @get("/entity-facets")
    async def get_facets(request: Request[Any, Any, Any]) -> Response[bytes]:
        params = QueryParams(request, {"facet", "filter"})
        facets = [facet for facet in params.all("facet") if facet]
        if not facets:
            raise InputError("Missing facet parameter")
        predicate = parse_entity_filter(params.all("filter"))
        credentials = await http_auth.credentials(request)
        return await _facets(catalog, facets, predicate, credentials)

    @post("/entity-facets", status_code=200)
    async def post_facets(request: Request[Any, Any, Any]) -> Response[bytes]:
        QueryParams(request, ())
        body = await read_json_object(request) or {}
        facets = body.get("facets")
        if not isinstance(facets, list) or not all(isinstance(f, str) for f in facets):
            raise InputError("Missing or empty facets parameter")
        facets = [facet for facet in facets if facet]
        if not facets:
            raise InputError("Missing or empty facets parameter")
        query = body.get("query")
        if query is not None:
            query = parse_predicate(query, "Invalid query: Validation error: ")
        credentials = await http_auth.credentials(request)
        return await _facets(catalog, facets, query, credentials)

    return [get_facets, post_facets]
