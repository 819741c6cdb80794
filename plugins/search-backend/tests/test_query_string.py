"""Query strings as Backstage's `qs`-based clients write them."""

from __future__ import annotations

import pytest
from backstage_plugin_search_backend._query_string import parse_query_string


@pytest.mark.parametrize(
    ("query", "parsed"),
    [
        ("types%5B0%5D=a&types%5B1%5D=b", {"types": ["a", "b"]}),
        ("types[1]=b&types[0]=a", {"types": ["a", "b"]}),
        ("types[]=a&types[]=b", {"types": ["a", "b"]}),
        ("types=a&types=b", {"types": ["a", "b"]}),
        ("types=a", {"types": "a"}),
        ("term=pet%20store&term2=x+y", {"term": "pet store", "term2": "x y"}),
        ("term=", {"term": ""}),
        (
            "filters[kind]=API&filters[lifecycle][0]=production",
            {"filters": {"kind": "API", "lifecycle": ["production"]}},
        ),
        ("filters[tags][]=a&filters[tags][]=b", {"filters": {"tags": ["a", "b"]}}),
        # as in qs: an index above 20 is an object key, nesting stops at depth 5
        ("types[21]=a", {"types": {"21": "a"}}),
        ("a[b][c][d][e][f][g]=1", {"a": {"b": {"c": {"d": {"e": {"f": {"[g]": "1"}}}}}}}),
        ("=x&a]b=1", {"a]b": "1"}),
    ],
)
def test_brackets_repeats_and_plain_values(query: str, parsed: dict[str, object]) -> None:
    assert parse_query_string(query) == parsed
