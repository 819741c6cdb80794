"""`GET /entities`: a bare JSON array, streamed page by page unless paging is asked for.

Without `limit`/`offset`/`after` the whole (filtered) catalog is written out in chunks,
each read by a keyset seek, so memory stays bounded by one chunk. The first chunk is read
before the status is sent, so that a query the database refuses is an error response and
not a 200 cut short; a catalog that fits in one chunk is sent whole. With them, one page is
returned and a `Link` header points at the next one through an `after` cursor.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

from backstage_common.errors import InputError
from backstage_plugin_catalog_common import Predicate, parse_entity_filter
from litestar import Request, Response, get
from litestar.handlers import HTTPRouteHandler
from litestar.response import Stream
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from backstage_plugin_catalog_backend.api._cursors import (
    SortValues,
    decode_after_cursor,
    encode_after_cursor,
)
from backstage_plugin_catalog_backend.api._fields import Projection, parse_fields
from backstage_plugin_catalog_backend.api._ordering import (
    OrderField,
    parse_order_params,
)
from backstage_plugin_catalog_backend.api._params import QueryParams
from backstage_plugin_catalog_backend.api._queries import EntitySelect, select_entities
from backstage_plugin_catalog_backend.api._responses import (
    JSON_MEDIA_TYPE,
    entity_array,
    entity_list,
    json_response,
)

__all__ = ["STREAM_CHUNK_SIZE", "list_routes"]

STREAM_CHUNK_SIZE = 1000
_PARAMS = frozenset({"fields", "limit", "filter", "offset", "after", "order"})


@dataclass(frozen=True)
class _Part:
    """Rows read from one select; `lacking` when they lack a value for the first order
    field (their sort values then start with None)."""

    entities: EntitySelect
    rows: Sequence[Any]
    lacking: bool = False


class _Page:
    """The entities of a page in order: their stored texts, and the sort values of any one of
    them (to continue after it), worked out only for the row a cursor needs."""

    def __init__(self, parts: Sequence[_Part]) -> None:
        self._parts = parts
        self.texts: list[str] = [row.final_entity for part in parts for row in part.rows]

    def sort_values(self, index: int) -> SortValues:
        for part in self._parts:
            if index < len(part.rows):
                values = part.entities.sort_values(part.rows[index])
                return [None, *values] if part.lacking else values
            index -= len(part.rows)
        raise IndexError(index)


@dataclass(frozen=True)
class _Listing:
    """The entities of a GET /entities request, read a page at a time by keyset.

    With an order, entities having a value for the first field are read first, walking
    that field's index; those lacking it follow, ordered by the other fields. Each part
    is a seek, so a page costs the same wherever it starts.
    """

    order: list[OrderField]
    predicate: Predicate | None
    tie_breaker: str

    async def page(
        self, connection: AsyncConnection, after: SortValues | None, limit: int
    ) -> _Page:
        if not self.order:
            entities = select_entities([], predicate=self.predicate, tie_breaker=self.tie_breaker)
            rows = await entities.rows(connection, after, limit=limit)
            return _Page([_Part(entities, rows)])
        parts: list[_Part] = []
        if after is None or after[0] is not None:
            having = select_entities(self.order, predicate=self.predicate, require_first=True)
            rows = await having.rows(connection, after, limit=limit)
            if len(rows) == limit:
                return _Page([_Part(having, rows)])
            parts.append(_Part(having, rows))
            after = None
        lacking = select_entities(
            self.order[1:],
            predicate=self.predicate,
            lacking_key=self.order[0].key,
            tie_descending=self.order[0].order == "desc",
        )
        wanted = limit - sum(len(part.rows) for part in parts)
        rows = await lacking.rows(connection, after[1:] if after else None, limit=wanted)
        parts.append(_Part(lacking, rows, lacking=True))
        return _Page(parts)


async def _chunk(engine: AsyncEngine, listing: _Listing, after: SortValues | None) -> _Page:
    async with engine.connect() as connection:
        return await listing.page(connection, after, STREAM_CHUNK_SIZE)


async def _stream(
    engine: AsyncEngine, listing: _Listing, projection: Projection | None, first: _Page
) -> AsyncIterator[bytes]:
    yield b"["
    page = first
    separator = b""
    while True:
        count = len(page.texts)
        if count:
            yield separator + entity_list(page.texts, projection).encode()
            separator = b","
        if count < STREAM_CHUNK_SIZE:
            break
        page = await _chunk(engine, listing, page.sort_values(count - 1))
    yield b"]"


def _next_link(request: Request[Any, Any, Any], after: str) -> str:
    pairs = [
        (name, value)
        for name, value in parse_qsl(request.url.query, keep_blank_values=True)
        if name != "offset"
    ]
    if any(name == "after" for name, _ in pairs):
        pairs = [(name, after if name == "after" else value) for name, value in pairs]
    else:
        pairs.append(("after", after))
    return f'</entities?{urlencode(pairs)}>; rel="next"'


async def _paged(
    engine: AsyncEngine,
    listing: _Listing,
    keyset: SortValues | None,
    limit: int | None,
    offset: int | None,
) -> _Page:
    """One page and the row after it: by keyset when the cursor has one, else by OFFSET."""
    wanted = None if limit is None else limit + 1
    seek = keyset is not None and len(keyset) == len(listing.order) + 1
    async with engine.connect() as connection:
        if seek and wanted is not None:
            return await listing.page(connection, keyset, wanted)
        entities = select_entities(
            listing.order, predicate=listing.predicate, tie_breaker=listing.tie_breaker
        )
        rows = await entities.rows(connection, limit=wanted, offset=offset)
    return _Page([_Part(entities, rows)])


def list_routes(engine: AsyncEngine) -> list[HTTPRouteHandler]:
    @get("/entities")
    async def list_entities(request: Request[Any, Any, Any]) -> Response[Any]:
        params = QueryParams(request, _PARAMS)
        predicate = parse_entity_filter(params.all("filter"))
        projection = parse_fields(params.all("fields"))
        order = parse_order_params(params.all("order"))
        limit, offset = params.integer("limit"), params.integer("offset")
        after = params.one("after")
        # Without an order, pages follow the entity ref as in Backstage.
        listing = _Listing(order, predicate, "entity_id" if order else "entity_ref")
        if limit is None and offset is None and after is None:
            first = await _chunk(engine, listing, None)
            if len(first.texts) < STREAM_CHUNK_SIZE:
                return json_response(entity_array(first.texts, projection))
            stream = _stream(engine, listing, projection, first)
            return Stream(stream, media_type=JSON_MEDIA_TYPE)

        if after is not None and not after:
            raise InputError("Invalid after, must not be empty")
        keyset = None
        if after:
            cursor = decode_after_cursor(after)
            limit = cursor.limit if cursor.limit is not None else limit
            offset = cursor.offset if cursor.offset is not None else offset
            keyset = cursor.keyset
        # what a cursor carries is checked as the same values given fresh
        if offset is not None and offset < 0:
            raise InputError("Invalid offset, must be zero or greater")
        if limit is not None and limit <= 0:
            raise InputError("Invalid limit, must be greater than zero")
        page = await _paged(engine, listing, keyset, limit, offset)
        texts = page.texts
        headers = {}
        if limit is not None and len(texts) > limit:
            texts = texts[:limit]
            last = page.sort_values(limit - 1)
            next_after = encode_after_cursor(limit, (offset or 0) + limit, last)
            headers["link"] = _next_link(request, next_after)
        return json_response(entity_array(texts, projection), headers=headers)

    return [list_entities]
