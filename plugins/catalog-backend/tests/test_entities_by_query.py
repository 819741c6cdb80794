"""GET and POST /entities/by-query: cursors as Backstage's client uses them, every order
field honoured, free counts, full-text filters and the JSON predicate grammar."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from .sample_catalog import Catalog, started_catalog


def cursor_json(cursor: str) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(base64.b64decode(cursor))
    return decoded


def page(response: Any) -> tuple[list[str], int, dict[str, str]]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"items", "totalItems", "pageInfo"}
    return [e["metadata"]["name"] for e in body["items"]], body["totalItems"], body["pageInfo"]


async def next_page(catalog: Catalog, cursor: str, **extra: Any) -> Any:
    """What Backstage's client does with a cursor: POST when it carries a `query`."""
    if "query" in cursor_json(cursor):
        return await catalog.post("/entities/by-query", {"cursor": cursor, **extra})
    return await catalog.get("/entities/by-query", cursor=cursor, **extra)


async def walk(catalog: Catalog, first: Any, **extra: Any) -> tuple[list[str], list[int]]:
    items, total, info = page(first)
    totals = [total]
    while "nextCursor" in info:
        more, total, info = page(await next_page(catalog, info["nextCursor"], **extra))
        items += more
        totals.append(total)
    return items, totals


@contextmanager
def recorded_statements(engine: AsyncEngine) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement.lower())

    sa.event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa.event.remove(engine.sync_engine, "before_cursor_execute", record)


async def test_get_pages_through_cursors(database_config: dict[str, Any]) -> None:
    async with started_catalog(database_config) as catalog:
        first = await catalog.get(
            "/entities/by-query",
            filter=["kind=component", "kind=api"],
            orderField="metadata.name,asc",
            limit=2,
        )
        names, totals = await walk(catalog, first, limit=2)
        assert names == ["monitor", "petstore", "petstore-api", "search-api", "website", "worker"]
        assert totals == [6, 6, 6]
        cursor = cursor_json(page(first)[2]["nextCursor"])
        # a GET filter travels in Backstage's legacy form, so its client stays on GET
        assert "query" not in cursor
        assert cursor["filter"]["anyOf"]
        assert cursor["orderFields"] == [{"field": "metadata.name", "order": "asc"}]
        # a cursor remembers its page size for a request that gives none
        names, _, _ = page(await next_page(catalog, page(first)[2]["nextCursor"]))
        assert names == ["petstore-api", "search-api"]
        assert cursor["isPrevious"] is False
        assert cursor["totalItems"] == 6


async def test_previous_cursor_returns_the_page_before(database_config: dict[str, Any]) -> None:
    async with started_catalog(database_config) as catalog:
        first = await catalog.get("/entities/by-query", orderField="metadata.name,desc", limit=3)
        first_names, _, info = page(first)
        assert "prevCursor" not in info
        second_names, _, info = page(await next_page(catalog, info["nextCursor"], limit=3))
        third_names, _, info = page(await next_page(catalog, info["nextCursor"], limit=3))
        back_names, _, back_info = page(await next_page(catalog, info["prevCursor"], limit=3))
        assert back_names == second_names
        again, _, _ = page(await next_page(catalog, back_info["prevCursor"], limit=3))
        assert again == first_names
        assert first_names + second_names + third_names == sorted(
            first_names + second_names + third_names, reverse=True
        )


async def test_every_order_field_is_honoured(database_config: dict[str, Any]) -> None:
    async with started_catalog(database_config) as catalog:
        first = await catalog.get(
            "/entities/by-query",
            orderField=["spec.lifecycle,desc", "kind", "metadata.name,desc"],
            limit=2,
            fields="metadata.name",
        )
        names, totals = await walk(catalog, first, limit=2)
        # production first (desc), then by kind, then name descending; entities without a
        # lifecycle are left out of items and of the total
        assert names == [
            "petstore-api",
            "worker",
            "petstore",
            "monitor",
            "search-api",
            "website",
        ]
        assert set(totals) == {6}
        cursor = cursor_json(page(first)[2]["nextCursor"])
        assert len(cursor["orderFieldValues"]) == 4


async def test_excluding_the_total_runs_no_count(database_config: dict[str, Any]) -> None:
    async with started_catalog(database_config) as catalog:
        with recorded_statements(catalog.engine) as statements:
            first = await catalog.get(
                "/entities/by-query", filter="kind=user", totalItems="exclude", limit=1
            )
            names, totals = await walk(catalog, first, limit=1)
        assert sorted(names) == ["alice", "bob"]
        assert totals == [0, 0]
        assert statements
        assert not any("count(" in s for s in statements)
        with recorded_statements(catalog.engine) as statements:
            _, total, _ = page(await catalog.get("/entities/by-query", filter="kind=user"))
        assert total == 2
        assert sum("count(" in s for s in statements) == 1


async def test_offset_limit_zero_and_full_text(database_config: dict[str, Any]) -> None:
    async with started_catalog(database_config) as catalog:
        names, total, info = page(
            await catalog.get(
                "/entities/by-query", filter="kind=group", orderField="metadata.name", offset=1
            )
        )
        assert (names, total, info) == (["team-a", "team-b"], 3, {})
        assert page(await catalog.get("/entities/by-query", filter="kind=group", limit=0)) == (
            [],
            3,
            {},
        )
        # default full-text field: the sort key
        names, total, _ = page(
            await catalog.get(
                "/entities/by-query", orderField="metadata.name", fullTextFilterTerm=" PET "
            )
        )
        assert (names, total) == (["pets", "petstore", "petstore-api"], 3)
        names, _, _ = page(
            await catalog.get(
                "/entities/by-query",
                fullTextFilterTerm="team",
                fullTextFilterFields="metadata.title,spec.profile.displayName",
                orderField="metadata.name",
            )
        )
        assert names == ["team-a", "team-b"]


async def test_post_with_predicate(database_config: dict[str, Any]) -> None:
    async with started_catalog(database_config) as catalog:
        body = {
            "query": {
                "$all": [
                    {"kind": {"$in": ["Component", "API"]}},
                    {"$not": {"spec.lifecycle": "experimental"}},
                ]
            },
            "orderBy": [{"field": "metadata.name", "order": "asc"}],
            "limit": 2,
            "fields": ["metadata.name"],
        }
        first = await catalog.post("/entities/by-query", body)
        cursor = cursor_json(page(first)[2]["nextCursor"])
        assert cursor["query"] == body["query"]
        names, totals = await walk(catalog, first, limit=2, fields=["metadata.name"])
        assert names == ["monitor", "petstore", "petstore-api", "worker"]
        assert totals == [4, 4]
        full = (await catalog.post("/entities/by-query", {"query": {"kind": "user"}})).json()
        assert {"apiVersion", "kind", "metadata", "spec", "relations"} <= set(full["items"][0])


async def post_names(catalog: Catalog, query: Any) -> list[str]:
    response = await catalog.post(
        "/entities/by-query",
        {"query": query, "orderBy": [{"field": "metadata.name", "order": "asc"}]},
    )
    return page(response)[0]


async def test_predicate_operators(database_config: dict[str, Any]) -> None:
    async with started_catalog(database_config) as catalog:
        assert await post_names(catalog, {"metadata.name": {"$hasPrefix": "PET"}}) == [
            "pets",
            "petstore",
            "petstore-api",
        ]
        assert await post_names(
            catalog, {"kind": "user", "spec.profile.displayName": {"$exists": True}}
        ) == [
            "alice",
            "bob",
        ]
        assert await post_names(
            catalog, {"kind": "component", "metadata.tags": {"$exists": False}}
        ) == ["monitor"]
        assert await post_names(catalog, {"metadata.tags": {"$contains": "JAVA"}}) == [
            "petstore",
            "worker",
        ]
        relation = {"type": "ownedBy", "targetRef": {"$in": ["group:default/team-b"]}}
        assert await post_names(catalog, {"relations": {"$contains": relation}}) == [
            "search-api",
            "website",
            "worker",
        ]
        assert await post_names(catalog, {"relations": {"$contains": {"type": "hasMember"}}}) == [
            "team-a",
            "team-b",
        ]
        assert await post_names(
            catalog, {"$any": [{"kind": "system"}, {"metadata.name": "org"}]}
        ) == [
            "org",
            "pets",
        ]
        # logic operators beside field keys are ANDed with them
        mixed = {
            "kind": "component",
            "$not": {"spec.type": "service"},
            "$any": [{"metadata.tags": "react"}],
        }
        assert await post_names(catalog, mixed) == ["website"]
        assert await post_names(catalog, {"$any": []}) == []
        assert len(await post_names(catalog, {"$all": []})) == 13
        assert len(await post_names(catalog, {})) == 13
        # booleans and numbers compare as their text
        assert await post_names(catalog, {"spec.nothing": True}) == []


async def test_postgres_plans_filters_from_pair_statistics_and_values(
    database_config: dict[str, Any],
) -> None:
    async with started_catalog(database_config) as catalog:
        if catalog.engine.dialect.name != "postgresql":
            return
        async with catalog.engine.connect() as connection:
            names = (
                await connection.execute(sa.text("SELECT stxname FROM pg_statistic_ext"))
            ).scalars()
            assert "search_key_value_stats" in set(names)
            # and plans each query for its own values, never a generic plan
            mode = (await connection.execute(sa.text("SHOW plan_cache_mode"))).scalar()
            assert mode == "force_custom_plan"


async def test_pages_cross_missing_secondary_values_both_ways(
    database_config: dict[str, Any],
) -> None:
    async with started_catalog(database_config) as catalog:
        query = {"orderField": ["kind,desc", "metadata.title,desc", "metadata.name"]}
        everything, _, _ = page(await catalog.get("/entities/by-query", **query))
        # kinds descending; within a kind titles descending, entities without one after
        # those with one, then names
        assert everything[:6] == [
            "alice",
            "bob",
            "pets",
            "generated-0123456789abcdef",
            "team-b",
            "team-a",
        ]
        assert everything[6:] == [
            "org",
            "website",
            "petstore",
            "monitor",
            "worker",
            "search-api",
            "petstore-api",
        ]
        first = await catalog.get("/entities/by-query", **query, limit=1)
        forward, _ = await walk(catalog, first, limit=1)
        assert forward == everything
        # and back again from the last page through prevCursor
        info = page(first)[2]
        pages = []
        while "nextCursor" in info:
            response = await next_page(catalog, info["nextCursor"], limit=1)
            pages.append(response)
            info = page(response)[2]
        backward: list[str] = []
        info = page(pages[-1])[2]
        while "prevCursor" in info:
            names, _, info = page(await next_page(catalog, info["prevCursor"], limit=1))
            backward = names + backward
        assert backward == everything[:-1]


async def test_a_key_with_several_values_lists_each_entity_once(
    database_config: dict[str, Any],
) -> None:
    async with started_catalog(database_config) as catalog:
        first = await catalog.get("/entities/by-query", orderField="metadata.tags", limit=1)
        names, totals = await walk(catalog, first, limit=1)
        # petstore's lowest tag is "java", as is worker's; uid breaks the tie
        assert sorted(names[:2]) == ["petstore", "worker"]
        assert names[2:] == ["website"]
        assert set(totals) == {3}


async def _pages_both_ways(catalog: Catalog, first: Any) -> list[str]:
    """Every name forwards one page at a time, checked against the walk back."""
    forward, totals = await walk(catalog, first, limit=1)
    assert set(totals) == {len(forward)}
    info = page(first)[2]
    last = first
    while "nextCursor" in info:
        last = await next_page(catalog, info["nextCursor"], limit=1)
        info = page(last)[2]
    backward, info = page(last)[0], page(last)[2]
    while "prevCursor" in info:
        names, _, info = page(await next_page(catalog, info["prevCursor"], limit=1))
        backward = names + backward
    assert backward == forward
    return forward


async def test_filters_walk_one_condition_and_probe_the_rest(
    database_config: dict[str, Any],
) -> None:
    """A page walks the search rows of one `field=value` condition of the filter (the
    index gives them in uid order) and only that page of entities is read."""
    async with started_catalog(database_config) as catalog:
        production_components = {"petstore", "worker", "monitor"}
        cases: list[tuple[dict[str, Any], set[str]]] = [
            ({"filter": "kind=component,spec.lifecycle=production"}, production_components),
            ({"filter": "spec.lifecycle=production,kind=component"}, production_components),
            ({"filter": "kind=component,metadata.tags=java"}, {"petstore", "worker"}),
            ({"filter": "kind=component,spec.type=service,metadata.namespace=ops"}, {"monitor"}),
            (
                {"filter": "kind=api,spec.type=grpc,spec.type=openapi"},
                {"petstore-api", "search-api"},
            ),
            ({"filter": ["kind=api", "kind=system"]}, {"petstore-api", "search-api", "pets"}),
            ({"filter": "kind=component,spec.lifecycle=retired"}, set()),
        ]
        for query, expected in cases:
            everything, total, _ = page(await catalog.get("/entities/by-query", **query))
            assert set(everything) == expected, query
            assert total == len(expected), query
            first = await catalog.get("/entities/by-query", **query, limit=1)
            assert await _pages_both_ways(catalog, first) == everything, query
        body = {
            "query": {"$all": [{"kind": "Component"}, {"$not": {"spec.owner": "team-b"}}]},
            "limit": 1,
        }
        first = await catalog.post("/entities/by-query", body)
        names = await _pages_both_ways(catalog, first)
        assert set(names) == {"petstore", "monitor"}
        if catalog.engine.dialect.name != "postgresql":
            return
        with recorded_statements(catalog.engine) as statements:
            await catalog.get(
                "/entities/by-query", filter="kind=component,spec.lifecycle=production", limit=2
            )
        [read] = [s for s in statements if "final_entity" in s]
        # the matching ids come from the search rows alone; the page joins its entities
        assert "search_walk" in read
        assert read.count("join final_entities") == 1
        assert "from final_entities" not in read


async def test_facets_and_counts_of_a_filter_match_its_entities(
    database_config: dict[str, Any],
) -> None:
    async with started_catalog(database_config) as catalog:
        response = await catalog.get(
            "/entity-facets",
            facet=["spec.lifecycle", "metadata.tags"],
            filter="kind=component,spec.type=service",
        )
        assert response.status_code == 200, response.text
        facets = response.json()["facets"]
        assert facets["spec.lifecycle"] == [{"value": "production", "count": 3}]
        assert sorted((f["value"], f["count"]) for f in facets["metadata.tags"]) == [
            ("Web", 1),
            ("java", 2),
        ]
