"""`GET` and `POST /entities/by-query`: keyset-paged queries with totals and cursors.

Every order field is honoured (then the uid); the first one must have a value for an
entity to be listed, as in Backstage. The count runs only on a first page whose request
did not say `totalItems: exclude`; later pages copy it from the cursor. Pages are served
from the response cache where it is exact (`ResponseCache`): a GET by its query string, a
POST by its body.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import msgspec
from backstage_backend_plugin_api import BackstageCredentials, HttpAuthService
from backstage_common.errors import InputError
from backstage_plugin_catalog_common import parse_entity_filter, parse_predicate
from litestar import Request, Response, get, post
from litestar.handlers import HTTPRouteHandler

from backstage_plugin_catalog_backend.api._body import read_json_object
from backstage_plugin_catalog_backend.api._cursors import (
    QueryCursor,
    decode_query_cursor,
    encode_query_cursor,
)
from backstage_plugin_catalog_backend.api._fields import Projection, parse_fields
from backstage_plugin_catalog_backend.api._input import check_integer
from backstage_plugin_catalog_backend.api._ordering import (
    OrderField,
    parse_order_field_params,
)
from backstage_plugin_catalog_backend.api._params import QueryParams
from backstage_plugin_catalog_backend.api._queries import FullTextFilter
from backstage_plugin_catalog_backend.api._response_cache import (
    KeptResponse,
    Miss,
    body_key,
    kept_json,
    request_key,
)
from backstage_plugin_catalog_backend.api._responses import (
    JSON_MEDIA_TYPE,
    entity_array,
)

if TYPE_CHECKING:  # the services import the storage modules of this package
    from backstage_plugin_catalog_backend.service import EntitiesCatalog

__all__ = ["DEFAULT_LIMIT", "by_query_routes"]

DEFAULT_LIMIT = 200
_PARAMS = frozenset(
    {
        "fields",
        "limit",
        "offset",
        "orderField",
        "cursor",
        "filter",
        "totalItems",
        "fullTextFilterTerm",
        "fullTextFilterFields",
    }
)
_TOTAL_ITEMS_MODES = ("include", "exclude")
_encode = msgspec.json.encode


@dataclass(frozen=True)
class _Request:
    cursor: QueryCursor
    initial: bool
    limit: int
    offset: int | None
    count: bool
    projection: Projection | None


def _full_text(cursor: QueryCursor) -> FullTextFilter | None:
    term = (cursor.full_text_term or "").strip().lower()
    if not term:
        return None
    first = cursor.order_fields[0].key if cursor.order_fields else None
    keys = cursor.full_text_fields or [first or "metadata.uid"]
    return FullTextFilter(term, tuple(key.lower() for key in keys))


async def _run(
    catalog: EntitiesCatalog, request: _Request, credentials: BackstageCredentials[Any]
) -> str:
    cursor = request.cursor
    backwards = cursor.is_previous
    limit = request.limit
    page = await catalog.query(
        cursor.order_fields,
        predicate=cursor.predicate,
        full_text=_full_text(cursor),
        after=cursor.order_field_values,
        backwards=backwards,
        limit=limit if backwards or limit == 0 else limit + 1,
        offset=request.offset if request.initial else None,
        count=cursor.total_items is None and request.count,
        credentials=credentials,
    )
    rows, entities = page.rows, page.selection
    # later pages copy the total from the cursor
    total = cursor.total_items if cursor.total_items is not None else page.total or 0

    if backwards:
        rows.reverse()
    # Walking back, the rows after this page exist: they are where the walk started.
    has_more = bool(rows) and (backwards or len(rows) > limit)
    rows = rows[:limit]
    page_info: dict[str, str] = {}
    first_values = cursor.first_sort_field_values
    if rows and first_values is not None and entities.sort_values(rows[0]) != first_values:
        previous = replace(
            cursor,
            limit=limit,
            order_field_values=entities.sort_values(rows[0]),
            is_previous=True,
            total_items=total,
        )
        page_info["prevCursor"] = encode_query_cursor(previous)
    if has_more:
        following = replace(
            cursor,
            limit=limit,
            order_field_values=entities.sort_values(rows[-1]),
            first_sort_field_values=(
                first_values if first_values is not None else entities.sort_values(rows[0])
            ),
            is_previous=False,
            total_items=total,
        )
        page_info["nextCursor"] = encode_query_cursor(following)
    items = entity_array((row.final_entity for row in rows), request.projection)
    return (
        '{"items":'
        + items
        + ',"totalItems":'
        + str(total)
        + ',"pageInfo":'
        + _encode(page_info).decode()
        + "}"
    )


def _cursor_request(
    cursor: QueryCursor, limit: int | None, projection: Projection | None
) -> _Request:
    """A page from a cursor: the page size asked for, else the one that made the cursor."""
    if limit is None:
        limit = cursor.limit if cursor.limit is not None else DEFAULT_LIMIT
    return _Request(cursor, False, limit, None, False, projection)


def _from_query_params(request: Request[Any, Any, Any]) -> _Request:
    params = QueryParams(request, _PARAMS)
    projection = parse_fields(params.all("fields"))
    limit, offset = params.integer("limit"), params.integer("offset")
    for name, value in (("limit", limit), ("offset", offset)):
        if value is not None and value < 0:
            raise InputError(f"request/query/{name} must be >= 0")
    cursor_text = params.one("cursor")
    if cursor_text is not None:
        if not cursor_text:
            raise InputError("Cursor cannot be empty")
        return _cursor_request(decode_query_cursor(cursor_text), limit, projection)
    limit = DEFAULT_LIMIT if limit is None else limit
    filter_predicate = parse_entity_filter(params.all("filter"))
    total_mode = params.one("totalItems")
    if total_mode is not None and total_mode not in _TOTAL_ITEMS_MODES:
        raise InputError(
            f'Invalid totalItems parameter "{total_mode}", expected one of: include, exclude'
        )
    text_fields = [
        field.strip()
        for value in params.all("fullTextFilterFields")
        for field in value.split(",")
        if field.strip()
    ]
    cursor = QueryCursor(
        order_fields=parse_order_field_params(params.all("orderField")),
        full_text_term=params.one("fullTextFilterTerm") or "",
        full_text_fields=text_fields or None,
        filter=filter_predicate,
    )
    return _Request(cursor, True, limit, offset, total_mode != "exclude", projection)


def _body_integer(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"request/body/{name} must be number")
    if value < 0 or not float(value).is_integer():
        raise InputError(f"request/body/{name} must be an integer >= 0")
    return check_integer(int(value), f"request/body/{name}")


def _string_list(body: dict[str, Any], name: str) -> list[str] | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InputError(f"request/body/{name} must be an array of strings")
    return value


def _order_by(value: object) -> list[OrderField]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InputError("request/body/orderBy must be array")
    fields = []
    for index, item in enumerate(value):
        if not isinstance(item, dict) or not isinstance(item.get("field"), str):
            raise InputError(f"request/body/orderBy/{index} must have required property 'field'")
        order = item.get("order")
        if order not in ("asc", "desc"):
            raise InputError("Invalid order field order, must be asc or desc")
        if not item["field"].strip():
            raise InputError(f"request/body/orderBy/{index}/field must not be empty")
        fields.append(OrderField(item["field"].strip(), "asc" if order == "asc" else "desc"))
    return fields


def _from_body(body: dict[str, Any]) -> _Request:
    fields = _string_list(body, "fields")
    projection = parse_fields(fields) if fields else None
    limit = _body_integer(body, "limit")
    if "cursor" in body:
        text = body["cursor"]
        if not isinstance(text, str):
            raise InputError("request/body/cursor must be string")
        if not text:
            raise InputError("Cursor cannot be empty")
        return _cursor_request(decode_query_cursor(text), limit, projection)
    limit = DEFAULT_LIMIT if limit is None else limit
    query = body.get("query")
    if query is not None:
        query = parse_predicate(query, "Invalid query: Validation error: ")
    total_mode = body.get("totalItems")
    if total_mode is not None and total_mode not in _TOTAL_ITEMS_MODES:
        raise InputError(
            f'Invalid totalItems value "{total_mode}", expected one of: include, exclude'
        )
    full_text = body.get("fullTextFilter")
    term, text_fields = None, None
    if full_text is not None:
        if not isinstance(full_text, dict):
            raise InputError("request/body/fullTextFilter must be object")
        term = full_text.get("term") or ""
        if not isinstance(term, str):
            raise InputError("request/body/fullTextFilter/term must be string")
        text_fields = _string_list(full_text, "fields")
    cursor = QueryCursor(
        order_fields=_order_by(body.get("orderBy")),
        full_text_term=term,
        full_text_fields=text_fields,
        query=query,
    )
    offset = _body_integer(body, "offset")
    return _Request(cursor, True, limit, offset, total_mode != "exclude", projection)


def by_query_routes(catalog: EntitiesCatalog, http_auth: HttpAuthService) -> list[HTTPRouteHandler]:
    async def respond(
        query: _Request, credentials: BackstageCredentials[Any], kept: KeptResponse | Miss | None
    ) -> Response[Any]:
        if isinstance(kept, KeptResponse):
            return kept_json(kept)
        body = (await _run(catalog, query, credentials)).encode()
        if kept is not None:
            await kept.keep(body)
        return Response(body, media_type=JSON_MEDIA_TYPE)

    @get("/entities/by-query")
    async def query_entities(request: Request[Any, Any, Any]) -> Response[Any]:
        query = _from_query_params(request)
        credentials = await http_auth.credentials(request)
        kept = await catalog.kept_response(request_key(request), credentials)
        return await respond(query, credentials, kept)

    @post("/entities/by-query", status_code=200)
    async def query_entities_by_predicate(request: Request[Any, Any, Any]) -> Response[Any]:
        QueryParams(request, ())
        body = await read_json_object(request) or {}
        query = _from_body(body)  # a body that is refused is never looked up nor kept
        credentials = await http_auth.credentials(request)
        kept = await catalog.kept_response(body_key(request, body), credentials)
        return await respond(query, credentials, kept)

    return [query_entities, query_entities_by_predicate]
