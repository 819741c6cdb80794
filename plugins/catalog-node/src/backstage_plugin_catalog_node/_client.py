"""`CatalogClient`: the catalog's entity reads over HTTP, for other plugins.

It finds the catalog through the discovery service (plugin id `catalog`) and sends a
fresh service token from the auth service with every request, on behalf of the given
credentials (default: the calling plugin itself). Requests follow Backstage's own
`CatalogClient`, so the two behave alike against the same catalog.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal
from urllib.parse import quote

import httpx
import msgspec
from backstage_backend_plugin_api import AuthService, BackstageCredentials, DiscoveryService
from backstage_common import errors
from backstage_common.tls import client_ssl_context
from backstage_plugin_catalog_common import (
    CATALOG_FILTER_EXISTS,
    EntityFilterQuery,
    combine_all,
    entity_filter_params,
    entity_filter_predicate,
)

__all__ = [
    "CATALOG_FILTER_EXISTS",
    "CatalogClient",
    "EntityFilterQuery",
    "EntityOrderField",
    "FacetBucket",
    "QueryEntitiesPage",
]

CATALOG_PLUGIN_ID: Final = "catalog"
BY_REFS_CHUNK: Final = 1000


Entity = dict[str, Any]


@dataclass(frozen=True)
class EntityOrderField:
    field: str
    order: Literal["asc", "desc"] = "asc"


@dataclass(frozen=True)
class FacetBucket:
    value: str
    count: int


@dataclass(frozen=True)
class QueryEntitiesPage:
    items: list[Entity]
    total_items: int
    next_cursor: str | None = None
    prev_cursor: str | None = None


@dataclass(frozen=True)
class _Query:
    params: list[tuple[str, str]] = field(default_factory=list)
    body: dict[str, Any] | None = None


_ERRORS: Mapping[str, type[errors.BackstageError]] = {
    cls.__name__: cls
    for cls in (
        errors.InputError,
        errors.AuthenticationError,
        errors.NotAllowedError,
        errors.NotFoundError,
        errors.ConflictError,
        errors.NotModifiedError,
        errors.NotImplementedError,
        errors.ServiceUnavailableError,
    )
}


def _filter_params(filter: EntityFilterQuery | None) -> list[tuple[str, str]]:
    return [("filter", text) for text in entity_filter_params(filter)]


def _raise_for(response: httpx.Response) -> None:
    if response.is_success:
        return
    name, message = "Error", f"Request failed with {response.status_code}"
    try:
        error = msgspec.json.decode(response.content).get("error", {})
        name, message = str(error.get("name", name)), str(error.get("message", message))
    except (msgspec.DecodeError, AttributeError):
        pass
    cls = _ERRORS.get(name, errors.BackstageError)
    raise cls(message)


class CatalogClient:
    """Reads entities from the catalog plugin, wherever it is deployed.

    Pass the plugin's own `httpx.AsyncClient` (closed by its owner), or let the client
    make one and close it with `aclose()`.
    """

    def __init__(
        self,
        *,
        discovery: DiscoveryService,
        auth: AuthService,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self._discovery = discovery
        self._auth = auth
        self._http = http or httpx.AsyncClient(verify=client_ssl_context())
        self._owns_http = http is None

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Sequence[tuple[str, str]] = (),
        body: Any = None,
        credentials: BackstageCredentials[Any] | None,
    ) -> httpx.Response:
        base_url = await self._discovery.get_base_url(CATALOG_PLUGIN_ID)
        on_behalf_of = credentials or await self._auth.get_own_service_credentials()
        token = await self._auth.get_plugin_request_token(
            on_behalf_of=on_behalf_of, target_plugin_id=CATALOG_PLUGIN_ID
        )
        return await self._http.request(
            method,
            base_url + path,
            params=list(params),
            content=msgspec.json.encode(body) if body is not None else None,
            headers={
                "authorization": f"Bearer {token.token}",
                "content-type": "application/json",
            },
        )

    async def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self._request(method, path, **kwargs)
        _raise_for(response)
        return msgspec.json.decode(response.content)

    async def get_entities(
        self,
        *,
        filter: EntityFilterQuery | None = None,
        fields: Sequence[str] = (),
        order: Sequence[EntityOrderField] = (),
        offset: int | None = None,
        limit: int | None = None,
        after: str | None = None,
        credentials: BackstageCredentials[Any] | None = None,
    ) -> list[Entity]:
        """`GET /entities`: every matching entity (the catalog streams them)."""
        params = _filter_params(filter)
        if fields:
            params.append(("fields", ",".join(fields)))
        params += [("order", f"{item.order}:{item.field}") for item in order]
        params += [
            (name, str(value))
            for name, value in (("offset", offset), ("limit", limit), ("after", after))
            if value is not None
        ]
        items: list[Entity] = await self._json(
            "GET", "/entities", params=params, credentials=credentials
        )
        return items

    async def query_entities(
        self,
        *,
        filter: EntityFilterQuery | None = None,
        query: Mapping[str, Any] | None = None,
        order_fields: Sequence[EntityOrderField] = (),
        full_text_term: str | None = None,
        full_text_fields: Sequence[str] = (),
        fields: Sequence[str] = (),
        limit: int | None = None,
        offset: int | None = None,
        total_items: Literal["include", "exclude"] | None = None,
        cursor: str | None = None,
        credentials: BackstageCredentials[Any] | None = None,
    ) -> QueryEntitiesPage:
        """One page of `/entities/by-query`; pass `cursor` (with `limit`, `fields`) for the
        next one. A `query` predicate is sent in a POST body, as are cursors from one."""
        if cursor is not None:
            request = self._cursor_request(cursor, limit, fields)
        elif query is not None:
            body = _predicate_body(query, filter, order_fields, full_text_term, full_text_fields)
            body.update(_page_body(limit, offset, fields, total_items))
            request = _Query(body=body)
        else:
            params = _filter_params(filter)
            params += [("orderField", f"{item.field},{item.order}") for item in order_fields]
            if full_text_term and full_text_term.strip():
                params.append(("fullTextFilterTerm", full_text_term.strip()))
            if full_text_fields:
                params.append(("fullTextFilterFields", ",".join(full_text_fields)))
            request = _Query(params=params + self._page_params(limit, offset, fields, total_items))
        if request.body is not None:
            data = await self._json(
                "POST", "/entities/by-query", body=request.body, credentials=credentials
            )
        else:
            data = await self._json(
                "GET", "/entities/by-query", params=request.params, credentials=credentials
            )
        info = data.get("pageInfo") or {}
        return QueryEntitiesPage(
            items=data["items"],
            total_items=data["totalItems"],
            next_cursor=info.get("nextCursor"),
            prev_cursor=info.get("prevCursor"),
        )

    @staticmethod
    def _page_params(
        limit: int | None, offset: int | None, fields: Sequence[str], total_items: str | None
    ) -> list[tuple[str, str]]:
        params = []
        if limit is not None:
            params.append(("limit", str(limit)))
        if offset is not None:
            params.append(("offset", str(offset)))
        if fields:
            params.append(("fields", ",".join(fields)))
        if total_items is not None:
            params.append(("totalItems", total_items))
        return params

    def _cursor_request(self, cursor: str, limit: int | None, fields: Sequence[str]) -> _Query:
        # As Backstage's client: a cursor from a predicate query pages by POST.
        try:
            decoded = msgspec.json.decode(base64.b64decode(cursor))
            carries_query = isinstance(decoded, dict) and "query" in decoded
        except (binascii.Error, ValueError, msgspec.DecodeError):
            carries_query = False
        if carries_query:
            body: dict[str, Any] = {"cursor": cursor}
            if limit is not None:
                body["limit"] = limit
            if fields:
                body["fields"] = list(fields)
            return _Query(body=body)
        return _Query(params=[("cursor", cursor), *self._page_params(limit, None, fields, None)])

    async def stream_entities(
        self,
        *,
        filter: EntityFilterQuery | None = None,
        query: Mapping[str, Any] | None = None,
        order_fields: Sequence[EntityOrderField] = (),
        fields: Sequence[str] = (),
        page_size: int = 500,
        credentials: BackstageCredentials[Any] | None = None,
    ) -> AsyncIterator[list[Entity]]:
        """Every matching entity, page by page, following cursors (no counting)."""
        page = await self.query_entities(
            filter=filter,
            query=query,
            order_fields=order_fields,
            fields=fields,
            limit=page_size,
            total_items="exclude",
            credentials=credentials,
        )
        while True:
            if page.items:
                yield page.items
            if page.next_cursor is None:
                return
            page = await self.query_entities(
                cursor=page.next_cursor, limit=page_size, fields=fields, credentials=credentials
            )

    async def get_entities_by_refs(
        self,
        entity_refs: Sequence[str],
        *,
        fields: Sequence[str] = (),
        filter: EntityFilterQuery | None = None,
        query: Mapping[str, Any] | None = None,
        credentials: BackstageCredentials[Any] | None = None,
    ) -> list[Entity | None]:
        """The entities in the order of `entity_refs`, None where there is none."""
        predicate = query
        params: list[tuple[str, str]] = []
        if query is not None and filter is not None:
            predicate = combine_all([entity_filter_predicate(filter), dict(query)])
        elif filter is not None:
            params = _filter_params(filter)
        items: list[Entity | None] = []
        for start in range(0, len(entity_refs), BY_REFS_CHUNK):
            body: dict[str, Any] = {"entityRefs": list(entity_refs[start : start + BY_REFS_CHUNK])}
            if fields:
                body["fields"] = list(fields)
            if predicate is not None:
                body["query"] = predicate
            data = await self._json(
                "POST", "/entities/by-refs", params=params, body=body, credentials=credentials
            )
            items.extend(data["items"])
        return items

    async def get_entity_by_ref(
        self, entity_ref: str, *, credentials: BackstageCredentials[Any] | None = None
    ) -> Entity | None:
        """One entity by `kind:[namespace/]name`; None when there is none."""
        kind, colon, rest = entity_ref.partition(":")
        if not colon or not kind or not rest:
            raise errors.InputError(f"Entity reference {entity_ref!r} has no kind")
        namespace, slash, name = rest.partition("/")
        if not slash:
            namespace, name = "default", rest
        path = "/entities/by-name/" + "/".join(
            quote(part, safe="") for part in (kind, namespace, name)
        )
        response = await self._request("GET", path, credentials=credentials)
        if response.status_code == 404:
            return None
        _raise_for(response)
        entity: Entity = msgspec.json.decode(response.content)
        return entity

    async def get_entity_facets(
        self,
        facets: Sequence[str],
        *,
        filter: EntityFilterQuery | None = None,
        query: Mapping[str, Any] | None = None,
        credentials: BackstageCredentials[Any] | None = None,
    ) -> dict[str, list[FacetBucket]]:
        """Value counts per facet among the matching entities."""
        if query is not None:
            predicate = combine_all([entity_filter_predicate(filter), dict(query)])
            data = await self._json(
                "POST",
                "/entity-facets",
                body={"facets": list(facets), "query": predicate},
                credentials=credentials,
            )
        else:
            params = [("facet", facet) for facet in facets] + _filter_params(filter)
            data = await self._json("GET", "/entity-facets", params=params, credentials=credentials)
        return {
            name: [FacetBucket(value=b["value"], count=b["count"]) for b in buckets]
            for name, buckets in data["facets"].items()
        }


def _predicate_body(
    query: Mapping[str, Any],
    filter: EntityFilterQuery | None,
    order_fields: Sequence[EntityOrderField],
    full_text_term: str | None,
    full_text_fields: Sequence[str],
) -> dict[str, Any]:
    predicate = combine_all([entity_filter_predicate(filter), dict(query)])
    body: dict[str, Any] = {"query": predicate}
    if order_fields:
        body["orderBy"] = [{"field": o.field, "order": o.order} for o in order_fields]
    if full_text_term and full_text_term.strip():
        body["fullTextFilter"] = {
            "term": full_text_term.strip(),
            **({"fields": list(full_text_fields)} if full_text_fields else {}),
        }
    return body


def _page_body(
    limit: int | None, offset: int | None, fields: Sequence[str], total_items: str | None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        name: value
        for name, value in (("limit", limit), ("offset", offset), ("totalItems", total_items))
        if value is not None
    }
    if fields:
        body["fields"] = list(fields)
    return body
