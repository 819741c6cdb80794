"""Entity responses: stored JSON text served verbatim, decoded only to project `fields`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import msgspec
from litestar import Response

from backstage_plugin_catalog_backend.api._fields import Projection

__all__ = ["JSON_MEDIA_TYPE", "entity_array", "entity_list", "entity_text", "json_response"]

JSON_MEDIA_TYPE = "application/json; charset=utf-8"

_decode = msgspec.json.Decoder()
_encode = msgspec.json.Encoder()


def entity_text(text: str | None, projection: Projection | None) -> str:
    """One entity as JSON text (`null` for None), projected when asked."""
    if text is None:
        return "null"
    if projection is None:
        return text
    return _encode.encode(projection.apply(_decode.decode(text))).decode()


def entity_list(texts: Iterable[str | None], projection: Projection | None) -> str:
    """Entities as the comma-separated items of a JSON array."""
    if projection is None:
        return ",".join(["null" if text is None else text for text in texts])
    return ",".join([entity_text(text, projection) for text in texts])


def entity_array(texts: Iterable[str | None], projection: Projection | None) -> str:
    """A JSON array of entities."""
    return "[" + entity_list(texts, projection) + "]"


def json_response(body: str, *, headers: Mapping[str, str] | None = None) -> Response[bytes]:
    return Response(body.encode(), media_type=JSON_MEDIA_TYPE, headers=dict(headers or {}))
