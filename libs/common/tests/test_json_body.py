"""decode_json_body: JSON of a request body, InputError (400) for an empty or broken one."""

from __future__ import annotations

import pytest
from backstage_common.errors import InputError
from backstage_common.json_body import decode_json_body


def test_decodes_any_json_value() -> None:
    assert decode_json_body(b'{"items": [1, "a", null]}') == {"items": [1, "a", None]}
    assert decode_json_body(b" [true] \n") == [True]


@pytest.mark.parametrize("raw", [b"", b"  \n\t"])
def test_an_empty_body_is_missing(raw: bytes) -> None:
    with pytest.raises(InputError, match=r"^Missing request body$"):
        decode_json_body(raw)


@pytest.mark.parametrize("raw", [b"{", b"{'a': 1}", b"[1,]", b"\xff\xfe"])
def test_broken_json_is_an_input_error(raw: bytes) -> None:
    with pytest.raises(InputError, match=r"^Invalid JSON in request body: "):
        decode_json_body(raw)
