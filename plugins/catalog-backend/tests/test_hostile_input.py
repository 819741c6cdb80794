"""Input the database cannot take, and filters past the cost limits, on Postgres over real
HTTP: each is a 4xx in Backstage's error body, never a 500 or a 200 cut short, and changes
nothing. One case per way a client could send it (query string, body, cursor, path)."""

from __future__ import annotations

import asyncio
import base64
import json
from dataclasses import dataclass, field
from typing import Any

from backstage_plugin_catalog_backend.api._input import (
    MAX_INTEGER,
    MAX_JSON_CONTAINERS,
    MAX_JSON_DEPTH,
)
from backstage_plugin_catalog_common import MAX_CONDITIONS, MAX_DEPTH, MAX_VALUES

from .sample_catalog import Catalog, started_catalog

_JSON = {"content-type": "application/json"}
# Generous: only proves that the largest allowed inputs do not hang the server.
_COMPLETES_WITHIN_S = 60


def b64(document: Any) -> str:
    return base64.b64encode(json.dumps(document).encode()).decode()


def nested(levels: int) -> bytes:
    """A body whose `query` is `levels` `$not`s deep (JSON nesting `levels` + 2)."""
    return b'{"query":' + b'{"$not":' * levels + b'{"kind":"a"}' + b"}" * levels + b"}"


def query_cursor(**extra: Any) -> str:
    return b64({"orderFields": [], "orderFieldValues": ["x"], "isPrevious": False, **extra})


def legacy_any(count: int) -> dict[str, Any]:
    return {
        "anyOf": [{"allOf": [{"key": "metadata.name", "values": [f"n{i}"]}]} for i in range(count)]
    }


def legacy_not(levels: int) -> dict[str, Any]:
    legacy: dict[str, Any] = {"key": "kind", "values": ["component"]}
    for _ in range(levels):
        legacy = {"not": legacy}
    return legacy


@dataclass(frozen=True)
class Case:
    method: str
    url: str
    message: str
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=lambda: dict(_JSON))
    status: int = 400
    name: str = "InputError"


def body(document: Any) -> bytes:
    return json.dumps(document).encode()


_TOO_BIG = MAX_INTEGER + 1
_MANY_VALUES = [str(i) for i in range(40_000)]
_MANY_SETS = "&".join(f"filter=metadata.name%3Dn{i}" for i in range(MAX_CONDITIONS + 1))

REFUSED = [
    # NUL characters: Postgres text refuses them
    Case("GET", "/entities?filter=kind%3Da%00", "request/query/filter must not contain NUL"),
    Case("GET", "/entities?filter=kind%3Da%00&limit=5", "request/query/filter must not contain"),
    Case("GET", "/entities?order=asc:metadata.name%00", "request/query/order must not contain"),
    Case("GET", "/entities?fields=kind%00", "request/query/fields must not contain NUL"),
    Case(
        "GET",
        "/entities?after=" + b64({"limit": 2, "offset": 2, "keyset": ["a\x00", "b"]}),
        "Malformed after cursor",
    ),
    Case("GET", "/entities/by-query?fullTextFilterTerm=a%00", "must not contain NUL"),
    Case("GET", "/entities/by-query?fullTextFilterFields=a%00", "must not contain NUL"),
    Case("GET", "/entities/by-query?orderField=metadata.name%00", "must not contain NUL"),
    Case("GET", "/entities/by-query?cursor=" + query_cursor(orderFieldValues=["a\x00"]), "NUL"),
    Case("POST", "/entities/by-query", "must not contain NUL", body({"query": {"kind": "a\x00"}})),
    Case("POST", "/entities/by-query", "must not contain NUL", body({"query": {"kind\x00": "a"}})),
    Case(
        "POST",
        "/entities/by-query",
        "must not contain NUL",
        body({"fullTextFilter": {"term": "\x00"}}),
    ),
    Case("POST", "/entities/by-refs", "must not contain NUL", body({"entityRefs": ["a\x00"]})),
    Case(
        "POST",
        "/entities/by-refs?filter=kind=component",
        "must not contain NUL",
        body({"entityRefs": ["component:default/a\x00"]}),
    ),
    Case("GET", "/entity-facets?facet=kind%00", "request/query/facet must not contain NUL"),
    Case("GET", "/entity-facets?facet=kind&filter=kind%3Da%00", "must not contain NUL"),
    Case("POST", "/entity-facets", "must not contain NUL", body({"facets": ["kind\x00"]})),
    Case("POST", "/locations", "must not contain NUL", body({"type": "url", "target": "h\x00"})),
    Case(
        "POST",
        "/locations?dryRun=true",
        "must not contain NUL",
        body({"type": "url", "target": "https://example.com/a\x00"}),
    ),
    Case(
        "POST", "/locations/by-query", "must not contain NUL", body({"query": {"target": "\x00"}})
    ),
    Case(
        "POST",
        "/locations/by-query",
        "Malformed cursor",
        body({"cursor": b64({"limit": 1, "afterId": "a\x00"})}),
    ),
    Case("POST", "/refresh", "must not contain NUL", body({"entityRef": "component:default/\x00"})),
    Case(
        "POST",
        "/analyze-location",
        "must not contain NUL",
        body({"location": {"type": "url", "target": "https://example.com/\x00"}}),
    ),
    Case(
        "POST",
        "/analyze-location",
        "not a URL",
        body({"location": {"type": "url", "target": "http://[::1/catalog-info.yaml"}}),
    ),
    # invalid UTF-8 and JSON nested past the limit
    Case("GET", "/entities?filter=kind%3D%FF", "request/query must be valid UTF-8"),
    Case("GET", "/entities/by-query?fullTextFilterTerm=%C3", "request/query must be valid UTF-8"),
    Case("GET", "/entity-facets?facet=%E0%80", "request/query must be valid UTF-8"),
    Case("POST", "/entities/by-refs?filter=%FF", "request/query must be valid UTF-8", b"{}"),
    Case(
        "POST",
        "/entities/by-query",
        "request body is not valid UTF-8",
        b'{"query":{"kind":"\xff"}}',
    ),
    Case(
        "POST", "/entities/by-refs", "request body is not valid UTF-8", b'{"entityRefs":["\xc3"]}'
    ),
    Case("POST", "/locations/by-query", "Malformed JSON in request body", b"\xff"),
    Case("POST", "/locations/by-query", "request body is not valid UTF-8", b'{"query":"\xe0\x80"}'),
    Case("POST", "/entities/by-query", f"nest more than {MAX_JSON_DEPTH} levels", nested(5_000)),
    Case("POST", "/entities/by-query", f"nest more than {MAX_JSON_DEPTH}", b"[" * 100_000),
    Case("POST", "/entities/by-refs", f"nest more than {MAX_JSON_DEPTH}", b"[" * 100 + b"]" * 100),
    Case("POST", "/entity-facets", f"nest more than {MAX_JSON_DEPTH}", nested(MAX_JSON_DEPTH)),
    Case(
        "POST",
        "/entities/by-refs",
        f"more than {MAX_JSON_CONTAINERS} objects and arrays",
        b'{"entityRefs":[' + b",".join([b"[]"] * MAX_JSON_CONTAINERS) + b"]}",
    ),
    Case(
        "POST",
        "/refresh",
        f"more than {MAX_JSON_CONTAINERS} objects and arrays",
        b'{"entityRef":[' + b",".join([b"{}"] * MAX_JSON_CONTAINERS) + b"]}",
    ),
    Case(
        "GET",
        "/entities/by-query?cursor=" + base64.b64encode(b"[" * 10_000).decode(),
        "Malformed cursor: cursor must not nest",
    ),
    Case(
        "POST",
        "/locations/by-query",
        "Malformed cursor",
        body({"cursor": base64.b64encode(b'{"query":' + b"[" * 10_000).decode()}),
    ),
    # integers past what the database's 32-bit parameters take
    Case("GET", f"/entities?limit={_TOO_BIG}", f"limit must be at most {MAX_INTEGER}"),
    Case("GET", f"/entities?limit=1&offset={_TOO_BIG}", f"offset must be at most {MAX_INTEGER}"),
    Case("GET", "/entities?limit=99999999999999999999999", "limit must be at most"),
    Case("GET", "/entities?after=" + b64({"limit": _TOO_BIG, "offset": 0}), "Malformed after"),
    Case("GET", "/entities?after=" + b64({"limit": 1, "offset": _TOO_BIG}), "Malformed after"),
    Case("GET", "/entities?after=" + b64({"limit": -1, "offset": 0}), "Malformed after"),
    Case(
        "GET",
        "/entities?limit=2&after=" + b64({"limit": 0, "offset": 0, "keyset": ["a", "b"]}),
        "Invalid limit, must be greater than zero",
    ),
    Case("GET", f"/entities/by-query?limit={_TOO_BIG}", f"limit must be at most {MAX_INTEGER}"),
    Case("GET", f"/entities/by-query?offset={_TOO_BIG}", "offset must be at most"),
    Case("GET", "/entities/by-query?cursor=" + query_cursor(limit=_TOO_BIG), "Malformed cursor"),
    Case("POST", "/entities/by-query", "limit must be at most", body({"limit": _TOO_BIG})),
    Case("POST", "/entities/by-query", "limit must be at most", b'{"limit": 1e300}'),
    Case("POST", "/entities/by-query", "offset must be at most", body({"offset": 2**63})),
    Case("POST", "/entities/by-query", "Malformed JSON", b'{"limit": 1e999}'),
    Case("POST", "/locations/by-query", "Invalid limit", body({"limit": _TOO_BIG})),
    Case(
        "POST",
        "/locations/by-query",
        "Invalid limit",
        body({"cursor": b64({"limit": _TOO_BIG, "afterId": "a"})}),
    ),
    Case(
        "POST",
        "/locations/by-query",
        "afterId must be a string",
        body({"cursor": b64({"limit": 1, "afterId": 5})}),
    ),
    # more values than one statement takes, and filters past the cost limits
    Case(
        "POST",
        "/entities/by-query",
        f"at most {MAX_VALUES} values",
        body({"query": {"metadata.name": {"$in": _MANY_VALUES}}}),
    ),
    Case(
        "POST",
        "/entities/by-refs",
        f"at most {MAX_VALUES} values",
        body({"entityRefs": [], "query": {"metadata.name": {"$in": _MANY_VALUES}}}),
    ),
    Case(
        "POST",
        "/entity-facets",
        f"at most {MAX_VALUES} values",
        body({"facets": ["kind"], "query": {"metadata.name": {"$in": _MANY_VALUES}}}),
    ),
    Case(
        "POST",
        "/locations/by-query",
        f"at most {MAX_VALUES} values",
        body({"query": {"target": {"$in": _MANY_VALUES}}}),
    ),
    Case(
        "GET",
        "/entities?filter=" + ",".join(f"n%3D{i}" for i in range(MAX_VALUES + 1)),
        f"at most {MAX_VALUES} values",
    ),
    Case("GET", "/entities?" + _MANY_SETS, f"at most {MAX_CONDITIONS} conditions"),
    Case("GET", "/entities/by-query?" + _MANY_SETS, f"at most {MAX_CONDITIONS} conditions"),
    Case(
        "GET",
        "/entity-facets?facet=kind&" + _MANY_SETS,
        f"at most {MAX_CONDITIONS} conditions",
    ),
    Case(
        "POST",
        "/entities/by-refs?" + _MANY_SETS,
        f"at most {MAX_CONDITIONS} conditions",
        body({"entityRefs": []}),
    ),
    Case(
        "POST",
        "/entities/by-query",
        f"at most {MAX_CONDITIONS} conditions",
        body({"query": {f"metadata.annotations.k{i}": "v" for i in range(MAX_CONDITIONS + 1)}}),
    ),
    Case(
        "POST",
        "/entities/by-query",
        f"at most {MAX_CONDITIONS} conditions",
        body({"query": {"$any": [{} for _ in range(MAX_CONDITIONS + 1)]}}),
    ),
    Case(
        "POST",
        "/entities/by-query",
        f"nest at most {MAX_DEPTH} levels",
        nested(MAX_DEPTH + 1),
    ),
    # a cursor's filter is checked as the same filter given fresh
    Case(
        "GET",
        "/entities/by-query?cursor=" + query_cursor(filter=legacy_any(MAX_CONDITIONS)),
        f"at most {MAX_CONDITIONS} conditions",
    ),
    Case(
        "GET",
        "/entities/by-query?cursor=" + query_cursor(filter=legacy_not(MAX_DEPTH + 1)),
        f"Invalid filter, Predicates may nest at most {MAX_DEPTH} levels",
    ),
    Case(
        "POST",
        "/entities/by-query",
        f"at most {MAX_CONDITIONS} conditions",
        body(
            {
                "cursor": query_cursor(
                    filter=legacy_any(MAX_CONDITIONS // 2),
                    query={"$any": [{"kind": f"k{i}"} for i in range(MAX_CONDITIONS // 2)]},
                )
            }
        ),
    ),
    Case(
        "POST",
        "/entities/by-query",
        f"at most {MAX_VALUES} values",
        body({"cursor": query_cursor(query={"kind": {"$in": _MANY_VALUES}})}),
    ),
    Case(
        "GET",
        "/entities/by-query?cursor="
        + query_cursor(
            orderFields=[{"field": "a", "order": "asc"}] * 11, orderFieldValues=[None] * 12
        ),
        "At most 10 order fields",
    ),
    Case(
        "GET",
        "/entities/by-query?cursor="
        + query_cursor(fullTextFilter={"term": "a", "fields": ["f"] * 101}),
        "At most 100 full text fields",
    ),
    Case("GET", "/entities?" + "&".join(["order=asc:a"] * 11), "At most 10 order fields"),
    Case(
        "POST",
        "/entities/by-query",
        "At most 10 order fields",
        body({"orderBy": [{"field": f"f{i}", "order": "asc"} for i in range(11)]}),
    ),
    Case(
        "GET",
        "/entity-facets?" + "&".join(f"facet=f{i}" for i in range(101)),
        "At most 100 facets",
    ),
    Case("POST", "/entity-facets", "At most 100 facets", body({"facets": _MANY_VALUES})),
    Case("GET", "/entities?fields=" + ",".join(f"f{i}" for i in range(201)), "At most 200 fields"),
    Case(
        "POST",
        "/entities/by-refs",
        "At most 200 fields",
        body({"entityRefs": [], "fields": [f"f{i}" for i in range(201)]}),
    ),
]

NOT_FOUND = [
    ("GET", "/entities/by-uid/a%00"),
    ("GET", "/entities/by-uid/%FF"),
    ("GET", "/entities/by-name/component/default/pet%FFstore"),
    ("GET", "/entities/by-name/component/default/pet%00store"),
    ("GET", "/entities/by-name/component/default/petstore%00/ancestry"),
    ("GET", "/locations/a%00"),
    ("DELETE", "/locations/a%00"),
    ("GET", "/locations/by-entity/component/default/petstore%00"),
]


def assert_error_body(response: Any, method: str, status: int, name: str, message: str) -> None:
    assert response.status_code == status, (method, response.request.url, response.text[:500])
    error = response.json()
    assert error["error"]["name"] == name, error
    assert message in error["error"]["message"], (message, error)
    assert error["request"]["method"] == method
    assert error["response"] == {"statusCode": status}


async def _locations(catalog: Catalog) -> Any:
    response = await catalog.get("/locations")
    assert response.status_code == 200
    return response.json()


async def test_input_the_database_cannot_take_is_a_400_that_changes_nothing(
    postgres_config: dict[str, Any],
) -> None:
    async with started_catalog(postgres_config) as catalog:
        client = catalog.test.client
        entities, locations = await catalog.stored(), await _locations(catalog)
        for case in REFUSED:
            response = await client.request(
                case.method,
                f"/api/catalog{case.url}",
                content=case.content,
                headers=case.headers if case.content is not None else {},
            )
            assert_error_body(response, case.method, case.status, case.name, case.message)
        assert await catalog.stored() == entities
        assert await _locations(catalog) == locations


async def test_a_nul_or_invalid_utf8_in_a_path_names_nothing(
    postgres_config: dict[str, Any],
) -> None:
    async with started_catalog(postgres_config) as catalog:
        client = catalog.test.client
        before = await catalog.stored()
        for method, path in NOT_FOUND:
            response = await client.request(method, f"/api/catalog{path}")
            assert_error_body(response, method, 404, "NotFoundError", "")
        deleted = await client.delete("/api/catalog/entities/by-uid/a%00")
        assert deleted.status_code == 204
        assert await catalog.stored() == before


async def test_a_refused_streamed_listing_is_a_whole_error_response(
    postgres_config: dict[str, Any],
) -> None:
    # Without limit/offset/after the listing is streamed: the refusal must come before the
    # status, as a complete error body, not as a 200 whose body stops short.
    async with started_catalog(postgres_config) as catalog:
        async with catalog.test.client.stream(
            "GET", "/api/catalog/entities?filter=kind%3Dcomponent%00"
        ) as response:
            raw = await response.aread()
        assert response.status_code == 400
        assert json.loads(raw)["error"]["name"] == "InputError"
        listed = await catalog.get("/entities", filter="kind=component")
        assert listed.status_code == 200
        assert len(listed.json()) == 4


async def test_by_refs_takes_more_refs_than_one_statement_takes_parameters(
    postgres_config: dict[str, Any],
) -> None:
    refs = [f"component:default/missing-{i}" for i in range(70_000)]
    refs[12_345] = "component:default/petstore"
    refs[69_999] = "api:default/petstore-api"
    async with started_catalog(postgres_config) as catalog:
        for params in ({}, {"filter": "metadata.namespace=default"}):
            response = await catalog.post("/entities/by-refs", {"entityRefs": refs}, **params)
            assert response.status_code == 200, response.text[:500]
            items = response.json()["items"]
            assert len(items) == 70_000
            found = {index: item["metadata"]["name"] for index, item in enumerate(items) if item}
            assert found == {12_345: "petstore", 69_999: "petstore-api"}


# `filter=` sets of two statements: each is an `$all` of two conditions, under one `$any`.
_LARGEST_SETS = (MAX_CONDITIONS - 1) // 3


def _largest_predicates() -> dict[str, dict[str, Any]]:
    pairs = (MAX_CONDITIONS - 1) // 3 - 1  # and the pair that matches: all conditions
    deepest: dict[str, Any] = {"kind": "component"}
    for _ in range(MAX_DEPTH):
        deepest = {"$not": deepest}
    return {
        "or_of_pairs": {
            "$any": [
                {"$all": [{"kind": "component"}, {"metadata.name": f"n{i}"}]} for i in range(pairs)
            ]
            + [{"$all": [{"kind": "component"}, {"metadata.name": "petstore"}]}]
        },
        "flat": {
            "kind": "component",
            **{f"metadata.annotations.k{i}": {"$exists": False} for i in range(MAX_CONDITIONS - 1)},
        },
        "values": {"metadata.name": {"$in": [*_MANY_VALUES[: MAX_VALUES - 1], "petstore"]}},
        "deepest": deepest,
    }


async def test_the_largest_allowed_filters_are_answered(postgres_config: dict[str, Any]) -> None:
    async with started_catalog(postgres_config) as catalog:

        async def largest() -> None:
            for name, predicate in _largest_predicates().items():
                for path, extra in (
                    ("/entities/by-query", {}),
                    ("/entity-facets", {"facets": ["kind"]}),
                    ("/entities/by-refs", {"entityRefs": ["component:default/petstore"]}),
                ):
                    response = await catalog.post(path, {"query": predicate, **extra})
                    assert response.status_code == 200, (name, path, response.text[:500])
            sets = [f"kind=component,metadata.name=n{i}" for i in range(_LARGEST_SETS)]
            first = await catalog.get("/entities/by-query", filter=sets, limit=1)
            assert first.status_code == 200, first.text[:500]
            listed = await catalog.get("/entities", filter=sets)
            assert listed.status_code == 200, listed.text[:500]

        await asyncio.wait_for(largest(), _COMPLETES_WITHIN_S)
        by_query = await catalog.post(
            "/entities/by-query", {"query": _largest_predicates()["or_of_pairs"], "limit": 1}
        )
        assert [item["metadata"]["name"] for item in by_query.json()["items"]] == ["petstore"]


async def test_a_cursor_carrying_the_largest_allowed_filter_pages_on(
    postgres_config: dict[str, Any],
) -> None:
    sets = [f"kind=component,metadata.name=n{i}" for i in range(_LARGEST_SETS - 2)]
    sets += ["kind=component,metadata.name=petstore", "kind=component,metadata.name=website"]
    async with started_catalog(postgres_config) as catalog:
        first = await catalog.get("/entities/by-query", filter=sets, limit=1)
        assert first.status_code == 200, first.text[:500]
        cursor = first.json()["pageInfo"]["nextCursor"]
        second = await catalog.get("/entities/by-query", cursor=cursor)
        assert second.status_code == 200, second.text[:500]
        names = [item["metadata"]["name"] for item in first.json()["items"]]
        names += [item["metadata"]["name"] for item in second.json()["items"]]
        assert sorted(names) == ["petstore", "website"]


async def test_text_that_only_looks_like_a_nul_or_deep_nesting_is_served(
    postgres_config: dict[str, Any],
) -> None:
    # an escaped backslash before "u0000", and brackets inside strings, are plain text
    looks_like = {"$any": [{"metadata.name": "\\u0000" + "[" * 200}, {"kind": "api"}]}
    async with started_catalog(postgres_config) as catalog:
        response = await catalog.post("/entities/by-query", {"query": looks_like})
        assert response.status_code == 200, response.text[:500]
        names = sorted(item["metadata"]["name"] for item in response.json()["items"])
        assert names == ["petstore-api", "search-api"]
        deepest_allowed = b"[" * (MAX_JSON_DEPTH - 1) + b"]" * (MAX_JSON_DEPTH - 1)
        refs = b'{"entityRefs":["component:default/petstore"],"x":' + deepest_allowed + b"}"
        response = await catalog.test.client.post(
            "/api/catalog/entities/by-refs", content=refs, headers=_JSON
        )
        assert response.status_code == 200, response.text[:500]
        assert response.json()["items"][0]["metadata"]["name"] == "petstore"
