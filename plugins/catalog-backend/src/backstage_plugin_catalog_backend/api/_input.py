"""Client input that the database cannot take, refused with a 400 before it gets there.

Postgres text refuses NUL characters, `LIMIT`/`OFFSET` parameters are 32-bit, and a JSON
document nested thousands of levels deep exhausts the decoder's recursion: each of these
would otherwise surface as a 500 (or, in a streamed response, a truncated 200).
"""

from __future__ import annotations

from typing import Any

import msgspec
from backstage_common.errors import InputError

__all__ = [
    "MAX_FACETS",
    "MAX_FIELDS",
    "MAX_FULL_TEXT_FIELDS",
    "MAX_INTEGER",
    "MAX_JSON_DEPTH",
    "MAX_ORDER_FIELDS",
    "check_count",
    "check_integer",
    "check_text",
    "decode_json",
    "has_nul",
]

MAX_JSON_DEPTH = 64
MAX_INTEGER = 2**31 - 1
# Each order field, full-text field and facet adds to the statement; Backstage's frontend
# asks for one order field, a few full-text fields and a handful of facets.
MAX_ORDER_FIELDS = 10
MAX_FULL_TEXT_FIELDS = 100
MAX_FACETS = 100
# `fields=` projections: Backstage's frontend asks for a dozen or two.
MAX_FIELDS = 200

_decoder = msgspec.json.Decoder()


def has_nul(*texts: str) -> bool:
    """Whether any of `texts` holds a NUL, which no stored text can (a key naming nothing)."""
    return any("\x00" in text for text in texts)


def check_text(text: str, what: str) -> str:
    if "\x00" in text:
        raise InputError(f"{what} must not contain NUL characters")
    return text


def check_integer(value: int, what: str) -> int:
    if value > MAX_INTEGER:
        raise InputError(f"{what} must be at most {MAX_INTEGER}")
    return value


def check_count(count: int, limit: int, what: str) -> None:
    if count > limit:
        raise InputError(f"At most {limit} {what} are allowed, got {count}")


def _problem(document: object) -> str | None:
    """What makes a decoded document unusable: nesting past the limit or a NUL anywhere.
    Iterative, so that the check itself cannot run out of stack."""
    pending: list[tuple[object, int]] = [(document, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return "must not contain NUL characters"
        elif isinstance(value, dict | list):
            if depth > MAX_JSON_DEPTH:
                return f"must not nest more than {MAX_JSON_DEPTH} levels deep"
            if isinstance(value, dict):
                for key, item in value.items():
                    if "\x00" in key:
                        return "must not contain NUL characters"
                    pending.append((item, depth + 1))
            else:
                pending.extend((item, depth + 1) for item in value)
    return None


def decode_json(raw: bytes, what: str) -> Any:
    """`raw` as JSON; InputError when it is malformed, not UTF-8, nested past
    `MAX_JSON_DEPTH` levels or holds a NUL character."""
    try:
        document = _decoder.decode(raw)
    except RecursionError:
        raise InputError(f"{what} must not nest more than {MAX_JSON_DEPTH} levels deep") from None
    except UnicodeDecodeError:
        raise InputError(f"{what} is not valid UTF-8") from None
    except msgspec.DecodeError as error:
        raise InputError(f"Malformed JSON in {what}, {error}") from None
    problem = _problem(document)
    if problem:
        raise InputError(f"{what} {problem}")
    return document
