"""Reading JSON request bodies the way Backstage's catalog router does."""

from __future__ import annotations

from typing import Any

import msgspec
from backstage_common.errors import InputError
from litestar import Request

__all__ = ["read_json_object"]


async def read_json_object(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """The body as a non-empty JSON object; `InputError` otherwise."""
    content_type = request.headers.get("content-type")
    if not content_type:
        raise InputError("Content-Type missing")
    if content_type.split(";")[0].strip().lower() != "application/json":
        raise InputError("Illegal Content-Type")
    raw = await request.body()
    if not raw:
        raise InputError("Missing request body")
    try:
        body = msgspec.json.decode(raw)
    except msgspec.DecodeError as error:
        raise InputError(f"Malformed request body, {error}") from error
    if not isinstance(body, dict):
        raise InputError("Expected body to be a JSON object")
    if not body:
        raise InputError("Empty request body")
    return body
