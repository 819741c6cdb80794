"""JSON request bodies: content type, syntax and shape, each with a clear 400."""

from __future__ import annotations

from typing import Any

from backstage_common.errors import InputError
from litestar import Request

from backstage_plugin_catalog_backend.api._input import decode_json

__all__ = ["read_json_body", "read_json_object"]


async def read_json_object(request: Request[Any, Any, Any]) -> dict[str, Any] | None:
    """The body as a JSON object, or None when the body is empty.

    Bodies larger than `backend.server.requestBodyLimit` are refused with 413 by the
    framework before they are read whole. Bodies that are not UTF-8, nest too deeply, hold
    too many objects and arrays or hold NUL characters are refused (see `_input`).
    """
    raw = await request.body()
    if not raw.strip():
        return None
    content_type = request.headers.get("content-type")
    if not content_type:
        raise InputError("Content-Type missing")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise InputError("Illegal Content-Type")
    body = decode_json(raw, "request body")
    if not isinstance(body, dict):
        raise InputError("Expected body to be a JSON object")
    return body


async def read_json_body(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """The body as a non-empty JSON object, as the location and validation routes need."""
    body = await read_json_object(request)
    if body is None:
        raise InputError("Missing request body")
    if not body:
        raise InputError("Empty request body")
    return body
