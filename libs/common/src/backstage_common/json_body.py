"""Reading a request's JSON body, with Backstage's 400 messages for a missing or broken one."""

from __future__ import annotations

from typing import Any

import msgspec

from backstage_common.errors import InputError

__all__ = ["decode_json_body"]


def decode_json_body(raw: bytes) -> Any:
    """The decoded JSON of a request body.

    Args:
        raw: the body's bytes as received.

    Raises:
        InputError: the body is empty (or only whitespace), or is not valid JSON.
    """
    if not raw.strip():
        raise InputError("Missing request body")
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError as error:
        raise InputError(f"Invalid JSON in request body: {error}") from None
