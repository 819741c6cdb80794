"""`POST /locations/by-query`: the catalog's predicate model on every location field, over
real HTTP; a query it cannot take is a 400 in Backstage's error body."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import msgspec
import pytest
from backstage_backend_test_utils import TestBackend, start_test_backend
from backstage_plugin_catalog_backend import catalog_plugin
from backstage_plugin_catalog_common import MAX_CONDITIONS

_TARGETS = [
    "https://example.com/a/catalog-info.yaml",
    "https://example.com/b_c/catalog-info.yaml",
    "http://other.example/catalog-info.yaml",
]


@asynccontextmanager
async def _locations(database_config: dict[str, Any]) -> AsyncIterator[TestBackend]:
    config = {"backend": {"database": database_config}, "catalog": {"processingInterval": False}}
    async with start_test_backend(features=[catalog_plugin()], config=config) as test:
        for target in _TARGETS:
            response = await test.client.post(
                "/api/catalog/locations", json={"type": "url", "target": target}
            )
            assert response.status_code == 201
        yield test


async def _targets(test: TestBackend, query: object) -> list[str]:
    response = await test.client.post("/api/catalog/locations/by-query", json={"query": query})
    assert response.status_code == 200, response.text
    return sorted(item["target"] for item in response.json()["items"])


async def test_every_operator_on_every_field(database_config: dict[str, Any]) -> None:
    async with _locations(database_config) as test:
        https = sorted(_TARGETS[:2])
        assert await _targets(test, {"target": {"$hasPrefix": "https://"}}) == https
        assert await _targets(test, {"TARGET": {"$hasPrefix": "HTTPS://EXAMPLE.COM/B_"}}) == [
            _TARGETS[1]
        ]
        # LIKE's wildcards are plain characters in a prefix
        assert await _targets(test, {"target": {"$hasPrefix": "https://example.com/b%"}}) == []
        assert await _targets(test, {"target": {"$hasPrefix": "https://example.com/_"}}) == []
        assert await _targets(test, {"type": {"$hasPrefix": "u"}}) == sorted(_TARGETS)
        assert await _targets(test, {"target": {"$contains": _TARGETS[2]}}) == [_TARGETS[2]]
        assert await _targets(test, {"target": {"$in": []}}) == []
        assert await _targets(test, {"entityRef": {"$exists": True}}) == sorted(_TARGETS)
        assert await _targets(test, {"id": {"$exists": False}}) == []
        refs = (await test.client.get("/api/catalog/locations")).json()
        by_target = {item["data"]["target"]: item["data"] for item in refs}
        first = by_target[_TARGETS[0]]
        assert await _targets(test, {"entityRef": {"$hasPrefix": first["entityRef"]}}) == [
            _TARGETS[0]
        ]
        assert await _targets(test, {"id": {"$in": [first["id"].upper()]}}) == [_TARGETS[0]]
        # logic operators beside fields are ANDed, as on entities
        assert await _targets(
            test, {"type": "url", "$not": {"target": {"$hasPrefix": "https://"}}}
        ) == [_TARGETS[2]]
        assert await _targets(
            test,
            {"$any": [{"target": {"$hasPrefix": "http://"}}, {"target": _TARGETS[0]}]},
        ) == sorted([_TARGETS[0], _TARGETS[2]])


async def test_a_cursor_keeps_the_query(database_config: dict[str, Any]) -> None:
    async with _locations(database_config) as test:
        query = {"target": {"$hasPrefix": "https://"}}
        first = await test.client.post(
            "/api/catalog/locations/by-query", json={"query": query, "limit": 1}
        )
        cursor = first.json()["pageInfo"]["nextCursor"]
        assert msgspec.json.decode(base64.b64decode(cursor))["query"] == query
        second = await test.client.post("/api/catalog/locations/by-query", json={"cursor": cursor})
        items = first.json()["items"] + second.json()["items"]
        assert sorted(item["target"] for item in items) == sorted(_TARGETS[:2])
        assert second.json()["pageInfo"] == {}


def _cursor(query: object) -> str:
    return base64.b64encode(
        msgspec.json.encode({"limit": 1, "afterId": "", "query": query})
    ).decode()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"query": {"color": "red"}}, "Invalid query: unknown location field 'color'"),
        ({"query": "url"}, 'Invalid query: Expected object, received string at "query"'),
        ({"query": {"type": None}}, 'received null at "query.type"'),
        ({"query": {"type": {"$regex": "u"}}}, "Unknown operator $regex"),
        ({"query": {"target": {"$hasPrefix": 1}}}, "Expected string, received number"),
        ({"query": {"target": {"$contains": {"a": "b"}}}}, "object form of $contains"),
        (
            {"query": {"$any": [{"type": "url"}] * (MAX_CONDITIONS + 1)}},
            f"at most {MAX_CONDITIONS} conditions",
        ),
        ({"cursor": _cursor({"type": {"$in": "url"}})}, "Invalid query: Expected array"),
    ],
)
async def test_queries_it_cannot_take_are_400s(
    database_config: dict[str, Any], body: dict[str, Any], message: str
) -> None:
    async with _locations(database_config) as test:
        response = await test.client.post("/api/catalog/locations/by-query", json=body)
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["name"] == "InputError"
        assert message in error["message"]
        assert len((await test.client.get("/api/catalog/locations")).json()) == len(_TARGETS)
