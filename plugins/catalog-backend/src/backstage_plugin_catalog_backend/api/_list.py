"""`GET /entities`: a bare JSON array, streamed page by page unless paging is asked for.

Without `limit`/`offset`/`after` the whole (filtered) catalog is written out in chunks,
each read by a keyset seek, so memory stays bounded by one chunk. With them, one page is
returned and a `Link` header points at the next one through an `after` cursor.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qsl, urlencode

import sqlalchemy as sa
from backstage_common.errors import InputError
from litestar import Request, Response, get
from litestar.handlers import HTTPRouteHandler
from litestar.response import Stream
from sqlalchemy.ext.asyncio import AsyncEngine

from backstage_plugin_catalog_backend.api._cursors import decode_after_cursor, encode_after_cursor
from backstage_plugin_catalog_backend.api._fields import Projection, parse_fields
from backstage_plugin_catalog_backend.api._filters import parse_filter_params
from backstage_plugin_catalog_backend.api._ordering import (
    keyset_clause,
    order_by,
    parse_order_params,
)
from backstage_plugin_catalog_backend.api._params import QueryParams
from backstage_plugin_catalog_backend.api._queries import EntitySelect, select_entities
from backstage_plugin_catalog_backend.api._responses import (
    JSON_MEDIA_TYPE,
    entity_text,
    json_response,
)

__all__ = ["STREAM_CHUNK_SIZE", "list_routes"]

STREAM_CHUNK_SIZE = 1000
_PARAMS = frozenset({"fields", "limit", "filter", "offset", "after", "order"})


def _page_statement(
    entities: EntitySelect, after: list[str | None] | None, limit: int | None
) -> sa.Select[Any]:
    statement = sa.select(entities.table).order_by(
        *order_by(entities.sort_columns, backwards=False)
    )
    if after is not None:
        statement = statement.where(keyset_clause(entities.sort_columns, after, backwards=False))
    return statement if limit is None else statement.limit(limit)


async def _stream(
    engine: AsyncEngine, entities: EntitySelect, projection: Projection | None
) -> AsyncIterator[bytes]:
    yield b"["
    after: list[str | None] | None = None
    separator = ""
    while True:
        async with engine.connect() as connection:
            rows = (
                await connection.execute(_page_statement(entities, after, STREAM_CHUNK_SIZE))
            ).all()
        if rows:
            chunk = ",".join(entity_text(row.final_entity, projection) for row in rows)
            yield (separator + chunk).encode()
            separator = ","
        if len(rows) < STREAM_CHUNK_SIZE:
            break
        after = entities.sort_values(rows[-1])
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


def list_routes(engine: AsyncEngine) -> list[HTTPRouteHandler]:
    @get("/entities")
    async def list_entities(request: Request[Any, Any, Any]) -> Response[Any]:
        params = QueryParams(request, _PARAMS)
        predicate, _ = parse_filter_params(params.all("filter"))
        projection = parse_fields(params.all("fields"))
        order = parse_order_params(params.all("order"))
        limit, offset = params.integer("limit"), params.integer("offset")
        after = params.one("after")
        if limit is None and offset is None and after is None:
            entities = select_entities(order, predicate=predicate)
            return Stream(_stream(engine, entities, projection), media_type=JSON_MEDIA_TYPE)

        if offset is not None and offset < 0:
            raise InputError("Invalid offset, must be zero or greater")
        if limit is not None and limit <= 0:
            raise InputError("Invalid limit, must be greater than zero")
        if after is not None and not after:
            raise InputError("Invalid after, must not be empty")
        keyset = None
        if after:
            cursor = decode_after_cursor(after)
            limit = cursor.limit if cursor.limit is not None else limit
            offset = cursor.offset if cursor.offset is not None else offset
            keyset = cursor.keyset
        # Without an order, pages follow the entity ref as in Backstage.
        entities = select_entities(
            order, predicate=predicate, tie_breaker="entity_id" if order else "entity_ref"
        )
        seek = keyset is not None and len(keyset) == len(entities.sort_columns)
        statement = _page_statement(
            entities, keyset if seek else None, None if limit is None else limit + 1
        )
        if not seek and offset:
            statement = statement.offset(offset)
        async with engine.connect() as connection:
            rows = (await connection.execute(statement)).all()

        headers = {}
        if limit is not None and len(rows) > limit:
            rows = rows[:limit]
            next_after = encode_after_cursor(
                limit, (offset or 0) + limit, entities.sort_values(rows[-1])
            )
            headers["link"] = _next_link(request, next_after)
        body = "[" + ",".join(entity_text(row.final_entity, projection) for row in rows) + "]"
        return json_response(body, headers=headers)

    return [list_entities]
