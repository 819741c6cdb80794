"""The predicate model's parser: well-formed predicates within the limits are taken as
they are; anything else is refused with a message naming where it is wrong."""

from __future__ import annotations

from typing import Any

import pytest
from backstage_common.errors import InputError
from backstage_plugin_catalog_common import (
    MAX_CONDITIONS,
    MAX_DEPTH,
    MAX_VALUES,
    combine_all,
    parse_predicate,
    predicate_problem,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

_PRIMITIVE = st.one_of(st.text(max_size=4), st.integers(), st.booleans())
_VALUE = st.one_of(
    _PRIMITIVE,
    st.builds(lambda b: {"$exists": b}, st.booleans()),
    st.builds(lambda v: {"$in": v}, st.lists(_PRIMITIVE, max_size=3)),
    st.builds(lambda s: {"$hasPrefix": s}, st.text(max_size=4)),
    st.builds(lambda v: {"$contains": v}, _PRIMITIVE),
)
_FIELD = st.text(alphabet=st.sampled_from("abc.xyz"), min_size=1, max_size=5)
_PREDICATE = st.recursive(
    st.dictionaries(_FIELD, _VALUE, max_size=3),
    lambda inner: st.one_of(
        st.builds(lambda items: {"$all": items}, st.lists(inner, max_size=3)),
        st.builds(lambda items: {"$any": items}, st.lists(inner, max_size=3)),
        st.builds(lambda item: {"$not": item}, inner),
    ),
    max_leaves=10,
)


@settings(
    derandomize=True, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(_PREDICATE)
def test_well_formed_predicates_are_taken_as_they_are(predicate: dict[str, Any]) -> None:
    assert parse_predicate(predicate, "Invalid query: ") is predicate


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("kind", 'Expected object, received string at "query"'),
        ({"$or": []}, "Unknown operator $or, expected one of $all, $any, $not"),
        ({"$all": {}}, 'Expected array, received object at "query.$all"'),
        ({"kind": None}, 'received null at "query.kind"'),
        ({"kind": {"$exists": "yes"}}, 'Expected boolean, received string at "query.kind.$exists"'),
        ({"kind": {"$in": [[]]}}, 'received array at "query.kind.$in[0]"'),
        ({"kind": {"$hasPrefix": 1}}, "Expected string, received number"),
        ({"kind": {"$regex": "a"}}, 'Unknown operator $regex at "query.kind"'),
        ({"kind": {"$in": [], "$exists": True}}, "one operator of"),
        ({"\nkind": "a"}, "Invalid field name"),
        ({"$any": [{} for _ in range(MAX_CONDITIONS + 1)]}, f"at most {MAX_CONDITIONS} conditions"),
        ({"kind": {"$in": list(range(MAX_VALUES + 1))}}, f"at most {MAX_VALUES} values"),
    ],
)
def test_malformed_predicates_are_refused(value: object, message: str) -> None:
    with pytest.raises(InputError) as raised:
        parse_predicate(value, "Invalid query: ")
    assert str(raised.value).startswith("Invalid query: ")
    assert message in str(raised.value)


def test_depth_is_bounded() -> None:
    predicate: dict[str, Any] = {"kind": "a"}
    for _ in range(MAX_DEPTH):
        predicate = {"$not": predicate}
    assert predicate_problem(predicate) is None
    problem = predicate_problem({"$not": predicate})
    assert problem is not None
    assert f"nest at most {MAX_DEPTH} levels" in problem


def test_combine_all() -> None:
    assert combine_all([None, None]) is None
    assert combine_all([{"a": "1"}, None]) == {"a": "1"}
    assert combine_all([{"a": "1"}, {"b": "2"}]) == {"$all": [{"a": "1"}, {"b": "2"}]}
