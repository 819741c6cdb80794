"""The entity filter: any `filter=` text either parses or is refused with InputError; what
the client sends parses back to the predicate the client builds; and the legacy form a
cursor carries means the same as the predicate it was written from."""

from __future__ import annotations

from typing import Any

import pytest
from backstage_common.errors import InputError
from backstage_plugin_catalog_common import (
    CATALOG_FILTER_EXISTS,
    MAX_CONDITIONS,
    MAX_DEPTH,
    EntityFilterQuery,
    Predicate,
    entity_filter_params,
    entity_filter_predicate,
    legacy_filter_from_predicate,
    parse_entity_filter,
    predicate_from_legacy_filter,
    predicate_problem,
)
from hypothesis import given
from hypothesis import strategies as st

_TEXT = st.text(alphabet=st.sampled_from("ab=, .\t$"), max_size=12)
# What a client can send: keys and values without the grammar's separators.
_WORD = st.text(alphabet=st.sampled_from("abk.-_/:"), min_size=1, max_size=6)
_VALUE = st.text(alphabet=st.sampled_from("abk.-_/: "), max_size=6).map(str.strip)
_FILTER_VALUE = st.one_of(
    _VALUE, st.lists(_VALUE, min_size=1, max_size=3), st.just(CATALOG_FILTER_EXISTS)
)
_FILTER_SET = st.dictionaries(_WORD, _FILTER_VALUE, max_size=3)


def _is_refused(texts: list[str]) -> bool:
    statements = [s.strip() for text in texts for s in text.split(",") if s.strip()]
    return any(
        not s.partition("=")[0].strip() or s.partition("=")[0].strip().startswith("$")
        for s in statements
    )


@given(st.lists(_TEXT, max_size=3))
def test_any_filter_text_parses_or_is_refused(texts: list[str]) -> None:
    if _is_refused(texts):
        with pytest.raises(InputError, match="Invalid filter, "):
            parse_entity_filter(texts)
        return
    predicate = parse_entity_filter(texts)
    if predicate is not None:
        assert predicate_from_legacy_filter(legacy_filter_from_predicate(predicate)) == (
            _nested(predicate)
        )


def _nested(predicate: dict[str, Any]) -> dict[str, Any]:
    """The predicate as the legacy form nests it: every set an `$all`."""
    sets = predicate.get("$any", [predicate])
    nested = [{"$all": item.get("$all", [item])} for item in sets]
    return {"$any": nested} if "$any" in predicate else nested[0]


@given(st.lists(st.text(max_size=20), max_size=4))
def test_any_text_is_a_predicate_or_an_input_error(texts: list[str]) -> None:
    outcome: Predicate | InputError | None
    try:
        outcome = parse_entity_filter(texts)
    except InputError as error:
        outcome = error
    if isinstance(outcome, InputError):
        assert str(outcome).startswith("Invalid filter, ")
    else:
        assert outcome is None or predicate_problem(outcome, "filter") is None


@given(st.one_of(_FILTER_SET, st.lists(_FILTER_SET, max_size=3)))
def test_what_the_client_sends_parses_to_what_it_means(filter: EntityFilterQuery) -> None:
    assert parse_entity_filter(entity_filter_params(filter)) == entity_filter_predicate(filter)


def test_statements() -> None:
    predicate = parse_entity_filter(["kind=user, spec.type ,kind=group", "a="])
    assert predicate == {
        "$any": [
            {"$all": [{"kind": {"$in": ["user", "group"]}}, {"spec.type": {"$exists": True}}]},
            {"a": ""},
        ]
    }
    assert parse_entity_filter([" , "]) is None
    assert parse_entity_filter([]) is None
    with pytest.raises(InputError, match="'=b' is not a valid statement"):
        parse_entity_filter(["a=1,=b"])
    with pytest.raises(InputError, match=r"Invalid filter, Unknown operator \$foo"):
        parse_entity_filter(["kind=a,$foo=x"])


def test_client_filter_forms() -> None:
    filter: EntityFilterQuery = [
        {"kind": ["user", "group"], "spec.type": CATALOG_FILTER_EXISTS},
        {"metadata.name": "a=b"},
        {},
    ]
    assert entity_filter_params(filter) == [
        "kind=user,kind=group,spec.type",
        "metadata.name=a=b",
    ]
    assert entity_filter_params(None) == []
    assert entity_filter_predicate(None) is None
    assert entity_filter_predicate({"kind": "user"}) == {"kind": "user"}
    # a value may hold '=': only the first one separates the key
    assert parse_entity_filter(entity_filter_params({"metadata.name": "a=b"})) == {
        "metadata.name": "a=b"
    }


def test_legacy_form_is_backstages() -> None:
    predicate = parse_entity_filter(["kind=user,spec.type", "a=1,a=2"])
    assert predicate is not None
    assert legacy_filter_from_predicate(predicate) == {
        "anyOf": [
            {"allOf": [{"key": "kind", "values": ["user"]}, {"key": "spec.type"}]},
            {"allOf": [{"key": "a", "values": ["1", "2"]}]},
        ]
    }
    assert predicate_from_legacy_filter({"not": {"key": "kind", "values": ["a"]}}) == {
        "$not": {"kind": "a"}
    }


@pytest.mark.parametrize(
    "legacy",
    [
        None,
        "kind",
        {},
        {"key": 1},
        {"key": "kind", "values": "a"},
        {"key": "kind", "values": [1]},
        {"anyOf": {"key": "kind"}},
        {"allOf": [{"key": "kind"}, {"other": 1}]},
        {"not": []},
    ],
)
def test_malformed_legacy_filters_are_refused(legacy: object) -> None:
    with pytest.raises(InputError, match="Malformed cursor: invalid filter"):
        predicate_from_legacy_filter(legacy)


def test_legacy_filters_keep_the_predicate_limits() -> None:
    deep: dict[str, object] = {"key": "kind"}
    for _ in range(MAX_DEPTH + 1):
        deep = {"not": deep}
    with pytest.raises(InputError, match=f"nest at most {MAX_DEPTH} levels"):
        predicate_from_legacy_filter(deep)
    wide = {"anyOf": [{"key": f"k{i}"} for i in range(MAX_CONDITIONS)]}
    with pytest.raises(InputError, match=f"at most {MAX_CONDITIONS} conditions"):
        predicate_from_legacy_filter(wide)


def test_filter_text_keeps_the_predicate_limits() -> None:
    with pytest.raises(InputError, match=f"at most {MAX_CONDITIONS} conditions"):
        parse_entity_filter([f"k={i}" for i in range(MAX_CONDITIONS + 1)])


_LEGACY_STATEMENT = st.builds(
    lambda key, values: {"key": key} if values is None else {"key": key, "values": values},
    _WORD,
    st.none() | st.lists(_VALUE, max_size=3),
)
_LEGACY = st.recursive(
    _LEGACY_STATEMENT,
    lambda inner: st.one_of(
        st.builds(lambda items: {"allOf": items}, st.lists(inner, max_size=3)),
        st.builds(lambda items: {"anyOf": items}, st.lists(inner, max_size=3)),
        st.builds(lambda item: {"not": item}, inner),
    ),
    max_leaves=8,
)


@given(_LEGACY)
def test_a_cursors_legacy_filter_is_written_back_as_it_means(legacy: dict[str, object]) -> None:
    """What a cursor made elsewhere carries is written back, for the next page, meaning
    the same (statements at the top or in an `anyOf` are wrapped in an `allOf`)."""
    predicate = predicate_from_legacy_filter(legacy)
    written = legacy_filter_from_predicate(predicate)
    assert _flatten(predicate_from_legacy_filter(written)) == _flatten(predicate)


def _flatten(predicate: object) -> object:
    """Single-member `$all` collapsed, as the two forms nest them differently."""
    if isinstance(predicate, dict) and len(predicate) == 1:
        [(key, value)] = predicate.items()
        if key in ("$all", "$any") and isinstance(value, list):
            items = [_flatten(item) for item in value]
            return items[0] if key == "$all" and len(items) == 1 else {key: items}
        if key == "$not":
            return {key: _flatten(value)}
    return predicate
