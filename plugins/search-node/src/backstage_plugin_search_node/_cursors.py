"""Page cursors as Backstage's engines and frontend write them: base64 of the page number."""

from __future__ import annotations

import base64
import binascii

from backstage_common.errors import InputError

__all__ = [
    "DEFAULT_PAGE_LIMIT",
    "MAX_PAGE",
    "decode_page_cursor",
    "encode_page_cursor",
    "page_size",
]

DEFAULT_PAGE_LIMIT = 25
_MAX_CURSOR_LENGTH = 32
MAX_PAGE = 1_000_000
"""Deeper pages are refused: nobody pages that far, and offsets must stay in range."""


def encode_page_cursor(page: int) -> str:
    """`MA==` for page 0, `MQ==` for page 1: what Backstage's `SearchPagination` sends."""
    return base64.b64encode(str(page).encode()).decode()


def decode_page_cursor(cursor: str | None) -> int:
    """The zero-based page of `cursor` (page 0 when absent); InputError when it is not
    base64 of an integer from 0 to `MAX_PAGE`."""
    if cursor is None or cursor == "":
        return 0
    try:
        if len(cursor) > _MAX_CURSOR_LENGTH:
            raise ValueError("too long")
        text = base64.b64decode(cursor, validate=True).decode("ascii")
        if not text.isdigit() or int(text) > MAX_PAGE:
            raise ValueError("not a page number")
        return int(text)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InputError(f"Invalid page cursor '{cursor[:_MAX_CURSOR_LENGTH]}'") from None


def page_size(page_limit: int | None) -> int:
    """Backstage's rule: a missing or zero page limit means 25."""
    return page_limit or DEFAULT_PAGE_LIMIT
