"""The typed `CatalogClient` of catalog-node against the real catalog plugin over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from backstage_backend_plugin_api import core_services as core
from backstage_common.errors import InputError
from backstage_plugin_catalog_node import (
    CATALOG_FILTER_EXISTS,
    CatalogClient,
    EntityFilterQuery,
    EntityOrderField,
    FacetBucket,
)

from .sample_catalog import started_catalog


@asynccontextmanager
async def catalog_client(database_config: dict[str, Any]) -> AsyncIterator[CatalogClient]:
    async with started_catalog(database_config) as catalog:
        client = CatalogClient(
            discovery=await catalog.test.get_service(core.discovery, "catalog"),
            auth=await catalog.test.get_service(core.auth, "catalog"),
        )
        try:
            yield client
        finally:
            await client.aclose()


def names(entities: list[Any]) -> list[str]:
    return [entity["metadata"]["name"] for entity in entities]


async def test_client_reads(database_config: dict[str, Any]) -> None:
    async with catalog_client(database_config) as client:
        users = await client.get_entities(
            filter={"kind": "user"}, order=[EntityOrderField("metadata.name", "desc")]
        )
        assert names(users) == ["bob", "alice"]
        tagged = await client.get_entities(
            filter=[
                {"kind": ["api"]},
                {"kind": "component", "metadata.tags": CATALOG_FILTER_EXISTS},
            ],
            fields=["metadata.name"],
        )
        assert sorted(names(tagged)) == [
            "petstore",
            "petstore-api",
            "search-api",
            "website",
            "worker",
        ]

        entity = await client.get_entity_by_ref("component:petstore")
        assert entity is not None
        assert entity["metadata"]["name"] == "petstore"
        assert await client.get_entity_by_ref("component:default/nothing") is None
        with pytest.raises(InputError):
            await client.get_entity_by_ref("petstore")

        items = await client.get_entities_by_refs(
            ["user:default/bob", "user:default/nobody", "group:default/team-a"],
            fields=["kind"],
            filter={"kind": ["user", "group"]},
        )
        assert items == [{"kind": "User"}, None, {"kind": "Group"}]
        items = await client.get_entities_by_refs(
            ["user:default/bob", "group:default/team-a"],
            filter={"kind": "user"},
            query={"metadata.name": {"$hasPrefix": "b"}},
        )
        assert [item and item["kind"] for item in items] == ["User", None]

        facets = await client.get_entity_facets(["spec.type"], filter={"kind": "api"})
        assert facets == {"spec.type": [FacetBucket("grpc", 1), FacetBucket("openapi", 1)]}
        facets = await client.get_entity_facets(["kind"], query={"$not": {"kind": "component"}})
        assert FacetBucket("Component", 4) not in facets["kind"]


async def test_client_pages(database_config: dict[str, Any]) -> None:
    async with catalog_client(database_config) as client:
        page = await client.query_entities(
            filter={"kind": ["component", "api"]},
            order_fields=[EntityOrderField("metadata.name")],
            limit=4,
        )
        assert page.total_items == 6
        assert page.next_cursor is not None
        second = await client.query_entities(cursor=page.next_cursor, limit=4)
        assert names(page.items + second.items) == [
            "monitor",
            "petstore",
            "petstore-api",
            "search-api",
            "website",
            "worker",
        ]
        assert second.prev_cursor is not None
        assert second.next_cursor is None

        pages = [
            page
            async for page in client.stream_entities(
                query={"relations": {"$contains": {"type": "ownedBy"}}},
                filter={"kind": "component"},
                order_fields=[EntityOrderField("metadata.name", "desc")],
                fields=["metadata.name"],
                page_size=3,
            )
        ]
        assert [names(p) for p in pages] == [["worker", "website", "petstore"], ["monitor"]]


_FILTERS: list[EntityFilterQuery] = [
    {"kind": "user"},
    {"kind": ["component", "api"], "spec.type": CATALOG_FILTER_EXISTS},
    [{"kind": "group"}, {"kind": "component", "metadata.tags": CATALOG_FILTER_EXISTS}],
    [{"metadata.name": ["petstore", "alice"]}, {}],
]


@pytest.mark.parametrize("filter", _FILTERS)
async def test_client_filters_mean_the_same_as_params_and_as_predicates(
    database_config: dict[str, Any], filter: EntityFilterQuery
) -> None:
    """The client sends a filter as `filter=` parameters (GET) or, beside a `query`, as a
    predicate (POST): the server finds the same entities either way, and a cursor made
    from the parameters pages on with the same filter."""
    async with catalog_client(database_config) as client:
        order = [EntityOrderField("metadata.name")]
        by_params = await client.query_entities(filter=filter, order_fields=order, limit=1)
        by_predicate = await client.query_entities(
            filter=filter, query={}, order_fields=order, limit=100
        )
        listed = await client.get_entities(filter=filter)
        expected = sorted(names(listed))
        assert expected
        assert names(by_predicate.items) == expected
        assert by_params.total_items == len(expected)
        items, cursor = by_params.items, by_params.next_cursor
        while cursor is not None:
            page = await client.query_entities(cursor=cursor, limit=1)
            items, cursor = items + page.items, page.next_cursor
        assert names(items) == expected
