"""The catalog collator: Backstage's documents, read from the catalog page by page over
HTTP, in the same unit or another one."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import msgspec
from backstage_backend_plugin_api import (
    BackendPlugin,
    PluginRegistrationPoints,
    create_backend_plugin,
)
from backstage_backend_plugin_api import core_services as core
from backstage_backend_test_utils import (
    CapturingLogger,
    MockScheduler,
    TestBackend,
    mock_services,
    start_test_backend,
)
from backstage_plugin_search_backend import search_module_catalog_collator, search_plugin
from backstage_plugin_search_backend.catalog import ENTITY_FIELDS, entity_document
from litestar import Request, Response, get

from .catalog_backend import entity, free_port, started_catalog

TASK = "search_index_software_catalog"


def test_documents_have_backstages_catalog_entity_fields() -> None:
    component = {
        "kind": "Component",
        "metadata": {"name": "Petstore", "namespace": "Pets", "description": "Sells pets"},
        "spec": {"type": "service", "lifecycle": "production", "owner": "team-a"},
    }
    assert entity_document(component) == {
        "title": "Petstore",
        "text": "Sells pets",
        "componentType": "service",
        "type": "service",
        "namespace": "Pets",
        "kind": "Component",
        "lifecycle": "production",
        "owner": "team-a",
        "authorization": {"resourceRef": "component:pets/petstore"},
        "location": "/catalog/pets/component/petstore",
    }
    user = {
        "kind": "User",
        "metadata": {"name": "jane doe", "title": "Jane"},
        "spec": {"profile": {"displayName": "Jane Doe", "email": "jane@example.com"}},
    }
    document = entity_document(user, "/people/:name?ns=:namespace")
    assert document["title"] == "Jane"
    assert document["text"] == "Jane Doe : jane@example.com"
    assert document["type"] == document["componentType"] == "other"
    assert (document["namespace"], document["lifecycle"], document["owner"]) == ("default", "", "")
    assert document["location"] == "/people/jane%20doe?ns=default"
    group = {"kind": "Group", "metadata": {"name": "g"}, "spec": {"profile": {"email": "x@y"}}}
    assert entity_document(group)["text"] == ""


def _page(items: list[dict[str, Any]], next_cursor: str | None) -> Response[bytes]:
    body: dict[str, Any] = {"items": items, "totalItems": 0, "pageInfo": {}}
    if next_cursor:
        body["pageInfo"]["nextCursor"] = next_cursor
    return Response(msgspec.json.encode(body), media_type="application/json")


def _fake_catalog(requests: list[tuple[list[tuple[str, str]], str]]) -> BackendPlugin:
    """Serves three entities as two pages of Backstage's by-query wire format and records
    each request's parameters and Authorization header."""
    cursor = base64.b64encode(b'{"orderFieldValues":["x"],"isPrevious":false}').decode()

    def register(env: PluginRegistrationPoints) -> None:
        async def init(router: core.HttpRouter) -> None:
            @get("/entities/by-query")
            async def by_query(request: Request[Any, Any, Any]) -> Response[bytes]:
                params = list(request.query_params.multi_items())
                requests.append((params, request.headers.get("authorization", "")))
                if request.query_params.get("cursor") == cursor:
                    return _page([entity("API", "third")], None)
                return _page([entity("Component", "first"), entity("Group", "second")], cursor)

            router.use(by_query)

        env.register_init(init)

    return create_backend_plugin(plugin_id="catalog", register=register)


async def _search_features(logs: CapturingLogger) -> list[Any]:
    return [
        search_plugin(),
        search_module_catalog_collator(),
        mock_services.root_logger_factory(logger=logs),
        mock_services.logger_factory(),
    ]


async def _scheduler(test: TestBackend) -> MockScheduler:
    scheduler = await test.get_service(core.scheduler, "search")
    assert isinstance(scheduler, MockScheduler)
    return scheduler


async def _titles(test: TestBackend, term: str = "") -> list[str]:
    response = await test.client.get(f"/api/search/query?term={term}&pageLimit=100")
    assert response.status_code == 200, response.text
    return sorted(result["document"]["title"] for result in response.json()["results"])


async def test_pages_are_read_with_a_cursor_a_field_list_and_a_service_token() -> None:
    requests: list[tuple[list[tuple[str, str]], str]] = []
    config = {"search": {"collators": {"catalog": {"filter": {"kind": ["component", "api"]}}}}}
    logs = CapturingLogger("info")
    features = [_fake_catalog(requests), *await _search_features(logs)]
    # catalog and search in one unit: discovery finds the catalog on this backend
    async with start_test_backend(features=features, config=config) as test:
        await (await _scheduler(test)).trigger_task(TASK)
        titles = await _titles(test)
    assert titles == ["first", "second", "third"]
    (first, first_auth), (second, second_auth) = requests
    fields = ("fields", ",".join(ENTITY_FIELDS))
    assert sorted(first) == sorted(
        [("limit", "500"), fields, ("totalItems", "exclude"), ("filter", "kind=component,kind=api")]
    )
    [cursor] = [value for key, value in second if key == "cursor"]
    assert sorted(second) == sorted([("cursor", cursor), ("limit", "500"), fields])
    token = 'Bearer mock-service-token:{"sub":"plugin:search","target":"catalog"}'
    assert first_auth == second_auth == token


@asynccontextmanager
async def _search_unit(catalog_port: int, logs: CapturingLogger) -> AsyncIterator[TestBackend]:
    config = {
        "discovery": {
            "endpoints": [
                {"target": f"http://127.0.0.1:{catalog_port}/api/catalog", "plugins": ["catalog"]}
            ]
        },
        "search": {"collators": {"catalog": {"batchSize": 2}}},
    }
    async with start_test_backend(features=await _search_features(logs), config=config) as test:
        yield test


ENTITIES = [
    entity("Component", "petstore", type="service", lifecycle="production", owner="team-a"),
    entity("API", "petstore-api", type="openapi", lifecycle="production", owner="team-a"),
    entity("Component", "billing", type="service", lifecycle="experimental", owner="team-b"),
    entity("Group", "team-a", type="team"),
    entity("System", "shop"),
]


async def test_search_in_another_unit_indexes_the_catalog_page_by_page() -> None:
    logs = CapturingLogger("info")
    async with (
        started_catalog(ENTITIES) as catalog,
        _search_unit(int(catalog.base_url.rsplit(":", 1)[1]), logs) as search,
    ):
        await (await _scheduler(search)).trigger_task(TASK)
        everything = await _titles(search)
        response = await search.client.get("/api/search/query?term=petstore&filters[kind]=API")
    assert everything == ["billing", "petstore", "petstore-api", "shop", "team-a"]
    [hit] = response.json()["results"]
    assert hit["type"] == "software-catalog"
    assert hit["document"] == {
        "title": "petstore-api",
        "text": "The petstore-api",
        "componentType": "openapi",
        "type": "openapi",
        "namespace": "default",
        "kind": "API",
        "lifecycle": "production",
        "owner": "team-a",
        "location": "/catalog/default/api/petstore-api",
    }
    assert any("Indexed 5 documents of type 'software-catalog'" in e.message for e in logs.entries)


async def test_an_unreachable_catalog_fails_the_run_and_the_old_index_answers() -> None:
    port = free_port()
    logs = CapturingLogger("info")
    async with _search_unit(port, logs) as search:
        scheduler = await _scheduler(search)
        # the catalog is not up yet: the run fails, queries still answer (nothing indexed)
        await scheduler.trigger_task(TASK)
        assert scheduler.last_error(TASK) is not None
        pending = (await search.client.get("/api/search/query?term=")).json()
        async with started_catalog(ENTITIES, port=port):
            await scheduler.trigger_task(TASK)
            assert scheduler.last_error(TASK) is None
        # the catalog is gone again: the run fails, the index of the last good run answers
        await scheduler.trigger_task(TASK)
        assert scheduler.last_error(TASK) is not None
        titles = await _titles(search, "pet")
    assert pending == {"results": [], "numberOfResults": 0, "unindexedTypes": ["software-catalog"]}
    assert titles == ["petstore", "petstore-api"]
    failures = [e.message for e in logs.entries if "Indexing of type" in e.message]
    assert len(failures) == 2
    assert failures[0].startswith(
        "Indexing of type 'software-catalog' failed, the previous index is kept: "
        f"Could not read entities from the catalog at http://127.0.0.1:{port}/api/catalog: "
        "ConnectError"
    )


def test_collator_settings_come_from_config() -> None:
    from datetime import timedelta

    import pytest
    from backstage_common.config import Config
    from backstage_common.errors import InputError
    from backstage_plugin_search_backend.catalog import read_catalog_collator_settings

    defaults = read_catalog_collator_settings(Config.from_data({}))
    assert defaults.schedule.frequency == timedelta(minutes=10)
    assert defaults.schedule.initial_delay == timedelta(seconds=3)
    assert (defaults.batch_size, defaults.filters) == (500, ())
    catalog = {
        "schedule": {"frequency": {"cron": "*/5 * * * *"}, "timeout": "PT2M", "scope": "local"},
        "filter": [
            {"kind": "Component", "spec.lifecycle": ["production", "beta"]},
            {"kind": "API"},
        ],
        "batchSize": 100,
        "locationTemplate": "/entity/:name",
    }
    settings = read_catalog_collator_settings(
        Config.from_data({"search": {"collators": {"catalog": catalog}}})
    )
    assert settings.schedule.timeout == timedelta(minutes=2)
    assert settings.schedule.scope == "local"
    assert settings.filters == (
        {"kind": "Component", "spec.lifecycle": ["production", "beta"]},
        {"kind": "API"},
    )
    assert (settings.batch_size, settings.location_template) == (100, "/entity/:name")
    bad = {"search": {"collators": {"catalog": {"schedule": {"frequency": "soon"}}}}}
    with pytest.raises(InputError, match="frequency"):
        read_catalog_collator_settings(Config.from_data(bad))
