"""`GET /entities`: a bare JSON array, streamed page by page unless paging is asked for.

Without `limit`/`offset`/`after` the whole (filtered) catalog is written out in chunks,
each read by a keyset seek, so memory stays bounded by one chunk. The first chunk is read
before the status is sent, so that a query the database refuses is an error response and
not a 200 cut short; a catalog that fits in one chunk is sent whole. With them, one page is
returned and a `Link` header points at the next one through an `after` cursor. Whole
lists and pages are served from the response cache where it is exact (`ResponseCache`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

from backstage_backend_plugin_api import HttpAuthService
from backstage_common.errors import InputError
from backstage_plugin_catalog_common import parse_entity_filter
from litestar import Request, Response, get
from litestar.handlers import HTTPRouteHandler
from litestar.response import Stream

from backstage_plugin_catalog_backend.api._cursors import (
    decode_after_cursor,
    encode_after_cursor,
)
from backstage_plugin_catalog_backend.api._fields import Projection, parse_fields
from backstage_plugin_catalog_backend.api._ordering import (
    parse_order_params,
)
from backstage_plugin_catalog_backend.api._params import QueryParams
from backstage_plugin_catalog_backend.api._response_cache import (
    KeptResponse,
    Miss,
    kept_json,
    request_key,
)
from backstage_plugin_catalog_backend.api._responses import (
    JSON_MEDIA_TYPE,
    entity_array,
    entity_list,
)
from backstage_plugin_catalog_backend.service._listing import Listing, ListingPage

if TYPE_CHECKING:  # the services import the storage modules of this package
    from backstage_plugin_catalog_backend.service import EntitiesCatalog

__all__ = ["STREAM_CHUNK_SIZE", "list_routes"]

STREAM_CHUNK_SIZE = 1000
_PARAMS = frozenset({"fields", "limit", "filter", "offset", "after", "order"})


async def _stream(
    catalog: EntitiesCatalog,
    listing: Listing,
    projection: Projection | None,
    first: ListingPage,
    miss: Miss | None,
) -> AsyncIterator[bytes]:
    # the chunks are collected for the response cache while they may still be kept
    room = 0 if miss is None else miss.room
    kept: list[bytes] = []
    size = 0
    chunk = b"["
    page = first
    separator = b""
    while True:
        yield chunk
        if room:
            size += len(chunk)
            kept.append(chunk)
            if size > room:
                room = 0
                kept.clear()
        count = len(page.texts)
        if not count:
            chunk = b""
        else:
            chunk = separator + entity_list(page.texts, projection).encode()
            separator = b","
        if count < STREAM_CHUNK_SIZE:
            break
        page = await catalog.list_page(listing, page.sort_values(count - 1), STREAM_CHUNK_SIZE)
    yield chunk + b"]"
    if room and miss is not None:
        # after the last chunk was read: the body is complete
        await miss.keep(b"".join(kept) + chunk + b"]", streamed=True)


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


async def _whole(text: str, miss: Miss | None, headers: dict[str, str]) -> Response[bytes]:
    body = text.encode()
    if miss is not None:
        await miss.keep(body, headers)
    return Response(body, media_type=JSON_MEDIA_TYPE, headers=headers)


def list_routes(catalog: EntitiesCatalog, http_auth: HttpAuthService) -> list[HTTPRouteHandler]:
    @get("/entities")
    async def list_entities(request: Request[Any, Any, Any]) -> Response[Any]:
        params = QueryParams(request, _PARAMS)
        predicate = parse_entity_filter(params.all("filter"))
        projection = parse_fields(params.all("fields"))
        order = parse_order_params(params.all("order"))
        limit, offset = params.integer("limit"), params.integer("offset")
        after = params.one("after")
        # Without an order, pages follow the entity ref as in Backstage.
        credentials = await http_auth.credentials(request)
        kept = await catalog.kept_response(request_key(request), credentials)
        if isinstance(kept, KeptResponse):
            return kept_json(kept)
        listing = await catalog.listing(
            order, predicate, "entity_id" if order else "entity_ref", credentials
        )
        if limit is None and offset is None and after is None:
            first = await catalog.list_page(listing, None, STREAM_CHUNK_SIZE)
            if len(first.texts) < STREAM_CHUNK_SIZE:
                return await _whole(entity_array(first.texts, projection), kept, {})
            stream = _stream(catalog, listing, projection, first, kept)
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
        page = await catalog.list_paged(listing, keyset, limit, offset)
        texts = page.texts
        headers = {}
        if limit is not None and len(texts) > limit:
            texts = texts[:limit]
            last = page.sort_values(limit - 1)
            next_after = encode_after_cursor(limit, (offset or 0) + limit, last)
            headers["link"] = _next_link(request, next_after)
        return await _whole(entity_array(texts, projection), kept, headers)

    return [list_entities]
