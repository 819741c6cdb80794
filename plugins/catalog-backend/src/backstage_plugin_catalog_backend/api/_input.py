"""Client input that the database cannot take, refused with a 400 before it gets there.

Postgres text refuses NUL characters, `LIMIT`/`OFFSET` parameters are 32-bit, and a JSON
document nested thousands of levels deep exhausts the decoder's recursion: each of these
would otherwise surface as a 500 (or, in a streamed response, a truncated 200). JSON
documents are checked on their bytes (C-speed operations, tens of milliseconds for the
largest body), so that a hostile body costs no more than a plain one of its size.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
from backstage_common.errors import InputError

__all__ = [
    "MAX_FACETS",
    "MAX_FIELDS",
    "MAX_FULL_TEXT_FIELDS",
    "MAX_INTEGER",
    "MAX_JSON_CONTAINERS",
    "MAX_JSON_DEPTH",
    "MAX_ORDER_FIELDS",
    "check_count",
    "check_integer",
    "check_text",
    "decode_json",
    "has_nul",
]

MAX_JSON_DEPTH = 64
MAX_JSON_CONTAINERS = 100_000
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


# In valid JSON a NUL can only be the escape `\u0000` (control characters are invalid raw),
# and is one when the backslashes before it pair up.
_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
_NOT_BRACKETS = bytes(byte for byte in range(256) if byte not in b"[]{}")
# Objects and arrays nest alike: one kind of bracket, so that a pass removes one level only.
_ONE_KIND = bytes.maketrans(b"{}", b"[]")


def _brackets(raw: bytes) -> bytes:
    """The brackets of JSON `raw` outside its strings, as `[` and `]`. Without escapes,
    the quotes of valid JSON open and close strings in turn."""
    unescaped = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    return b"".join(unescaped.split(b'"')[::2]).translate(_ONE_KIND, _NOT_BRACKETS)


def _shape_problem(raw: bytes) -> str | None:
    """Whether JSON `raw` holds more than `MAX_JSON_CONTAINERS` objects and arrays or nests
    more than `MAX_JSON_DEPTH` levels, found on its bytes before it is decoded: decoding
    millions of them, or walking them once decoded, holds the event loop for seconds."""
    if raw.count(b"[") + raw.count(b"{") <= MAX_JSON_DEPTH:
        return None
    brackets = _brackets(raw)
    if len(brackets) > 2 * MAX_JSON_CONTAINERS:
        return f"must not hold more than {MAX_JSON_CONTAINERS} objects and arrays"
    for _ in range(MAX_JSON_DEPTH):
        brackets = brackets.replace(b"[]", b"")  # the innermost level
        if not brackets:
            return None
    return f"must not nest more than {MAX_JSON_DEPTH} levels deep"


def decode_json(raw: bytes, what: str) -> Any:
    """`raw` as JSON; InputError when it is malformed, not UTF-8, nested past
    `MAX_JSON_DEPTH` levels, holds more than `MAX_JSON_CONTAINERS` objects and arrays
    or holds a NUL character."""
    problem = _shape_problem(raw)
    if problem:
        raise InputError(f"{what} {problem}")
    try:
        document = _decoder.decode(raw)
    except RecursionError:
        raise InputError(f"{what} must not nest more than {MAX_JSON_DEPTH} levels deep") from None
    except UnicodeDecodeError:
        raise InputError(f"{what} is not valid UTF-8") from None
    except msgspec.DecodeError as error:
        raise InputError(f"Malformed JSON in {what}, {error}") from None
    if b"\\u0000" in raw and _NUL_ESCAPE.search(raw):
        raise InputError(f"{what} must not contain NUL characters")
    return document
