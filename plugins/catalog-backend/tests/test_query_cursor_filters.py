"""A query cursor's `filter`: the server writes the parsed `filter=` predicate in
Backstage's legacy form, and reads any legacy form (a cursor from an older server or from
Backstage's) as fresh input, paging on with the same filter."""

from __future__ import annotations

import base64
import json
from typing import Any

from .sample_catalog import started_catalog
from .test_entities_by_query import cursor_json, page


async def _cursor(catalog: Any, filter: object) -> tuple[str, str]:
    """A cursor past the first entity by name, carrying `filter` (as a cursor from another
    server would), and that entity's name."""
    first = await catalog.get(
        "/entities/by-query", orderField="metadata.name,asc", limit=1, totalItems="exclude"
    )
    names, _, info = page(first)
    data = {**cursor_json(info["nextCursor"]), "filter": filter}
    data.pop("totalItems", None)
    return base64.b64encode(json.dumps(data).encode()).decode(), names[0]


async def _walk(catalog: Any, cursor: str) -> list[str]:
    names: list[str] = []
    info = {"nextCursor": cursor}
    while "nextCursor" in info:
        response = await catalog.get("/entities/by-query", cursor=info["nextCursor"])
        more, _, info = page(response)
        names += more
    return names


async def test_legacy_filters_of_any_shape_page_on(database_config: dict[str, Any]) -> None:
    async with started_catalog(database_config) as catalog:
        not_components = {
            "allOf": [
                {"key": "kind", "values": ["component", "api"]},
                {"not": {"key": "spec.type", "values": ["service", "openapi"]}},
            ]
        }
        cursor, after = await _cursor(catalog, not_components)
        _, _, info = page(await catalog.get("/entities/by-query", cursor=cursor))
        # the next cursor carries the same filter, in the form it came in
        assert cursor_json(info["nextCursor"])["filter"] == not_components
        expected = await catalog.get(
            "/entities",
            filter=["kind=component", "kind=api"],
        )
        excluded = {"service", "openapi"}
        wanted = sorted(
            name
            for e in expected.json()
            if e["spec"]["type"] not in excluded and (name := e["metadata"]["name"]) > after
        )
        assert len(wanted) > 1
        assert await _walk(catalog, cursor) == wanted

        bare = {"key": "kind", "values": ["user"]}
        cursor, after = await _cursor(catalog, bare)
        users = await catalog.get("/entities", filter="kind=user")
        expected_users = sorted(
            name for e in users.json() if (name := e["metadata"]["name"]) > after
        )
        assert expected_users
        assert await _walk(catalog, cursor) == expected_users


async def test_filter_params_travel_as_the_legacy_form(database_config: dict[str, Any]) -> None:
    async with started_catalog(database_config) as catalog:
        first = await catalog.get(
            "/entities/by-query",
            filter=["kind=component,spec.type=service,spec.type=website", "kind=group"],
            orderField="metadata.name,asc",
            limit=1,
        )
        _, _, info = page(first)
        assert cursor_json(info["nextCursor"])["filter"] == {
            "anyOf": [
                {
                    "allOf": [
                        {"key": "kind", "values": ["component"]},
                        {"key": "spec.type", "values": ["service", "website"]},
                    ]
                },
                {"allOf": [{"key": "kind", "values": ["group"]}]},
            ]
        }
