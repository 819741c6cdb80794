"""Page cursors are Backstage's: base64 of the zero-based page number."""

from __future__ import annotations

import pytest
from backstage_common.errors import InputError
from backstage_plugin_search_node import MAX_PAGE, decode_page_cursor, encode_page_cursor, page_size


def test_cursors_are_what_the_frontend_pagination_sends() -> None:
    assert encode_page_cursor(0) == "MA=="
    assert encode_page_cursor(1) == "MQ=="
    assert decode_page_cursor("MQ==") == 1
    assert decode_page_cursor(encode_page_cursor(1234)) == 1234
    assert decode_page_cursor(encode_page_cursor(MAX_PAGE)) == MAX_PAGE
    assert decode_page_cursor(None) == 0
    assert decode_page_cursor("") == 0


@pytest.mark.parametrize(
    "cursor",
    ["garbage!", "LTE=", "YWJj", "MS41", "%%%", "M" * 100, encode_page_cursor(10**20)],
)
def test_anything_but_a_page_number_is_an_input_error(cursor: str) -> None:
    with pytest.raises(InputError, match="Invalid page cursor"):
        decode_page_cursor(cursor)


def test_a_missing_or_zero_page_limit_means_25() -> None:
    assert page_size(None) == 25
    assert page_size(0) == 25
    assert page_size(10) == 10
