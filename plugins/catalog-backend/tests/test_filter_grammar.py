"""The `filter=` grammar: any text either parses or is refused with InputError, and the
legacy form a GET cursor carries means the same as the predicate."""

from __future__ import annotations

import pytest
from backstage_common.errors import InputError
from backstage_plugin_catalog_backend.api._filters import (
    legacy_filter_predicate,
    parse_filter_params,
)
from hypothesis import given
from hypothesis import strategies as st

_TEXT = st.text(alphabet=st.sampled_from("ab=, .\t"), max_size=12)


@given(st.lists(_TEXT, max_size=3))
def test_any_filter_text_parses_or_is_refused(texts: list[str]) -> None:
    statements = [s.strip() for text in texts for s in text.split(",") if s.strip()]
    if any(not s.partition("=")[0].strip() for s in statements):
        with pytest.raises(InputError, match="is not a valid statement"):
            parse_filter_params(texts)
        return
    predicate, legacy = parse_filter_params(texts)
    assert (predicate is None) == (legacy is None)
    if legacy is not None:
        assert _flatten(legacy_filter_predicate(legacy)) == _flatten(predicate)


def _flatten(predicate: object) -> object:
    """Single-member $all/$any collapsed, as the two forms nest them differently."""
    if isinstance(predicate, dict) and len(predicate) == 1:
        [(key, value)] = predicate.items()
        if key in ("$all", "$any") and isinstance(value, list):
            items = [_flatten(item) for item in value]
            return items[0] if len(items) == 1 else {key: items}
    return predicate


def test_statements() -> None:
    predicate, _ = parse_filter_params(["kind=user, spec.type ,kind=group", "a="])
    assert predicate == {
        "$any": [
            {"$all": [{"kind": {"$in": ["user", "group"]}}, {"spec.type": {"$exists": True}}]},
            {"a": ""},
        ]
    }
    assert parse_filter_params([" , "]) == (None, None)
    with pytest.raises(InputError, match="'=b' is not a valid statement"):
        parse_filter_params(["a=1,=b"])
