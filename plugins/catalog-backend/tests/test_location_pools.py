"""Location requests run on the request pool: with every connection of the background pool
(the processing loop's) held, registering, reading, querying, moving, refreshing and
deleting a location still answer."""

from __future__ import annotations

from typing import Any

from backstage_backend_plugin_api import BackendModule, create_backend_module
from backstage_backend_plugin_api import core_services as core
from backstage_backend_test_utils import start_test_backend
from backstage_plugin_catalog_backend import catalog_plugin
from sqlalchemy.ext.asyncio import AsyncEngine


def _database_probe(found: list[AsyncEngine]) -> BackendModule:
    def register(env: Any) -> None:
        async def init(database: core.Database) -> None:
            found.append(await database.get_engine(purpose="background"))

        env.register_init(init)

    return create_backend_module(plugin_id="catalog", module_id="pool-probe", register=register)


async def test_location_requests_do_not_wait_for_the_background_pool(
    postgres_config: dict[str, Any],
) -> None:
    background: list[AsyncEngine] = []
    config = {
        "backend": {
            "database": {
                **postgres_config,
                "backgroundPool": {"max": 1},
                # a request that waited for the held background connection would be a 503
                "acquireConnectionTimeout": "2s",
            }
        },
        "catalog": {"processingInterval": False},
    }
    features = [catalog_plugin(), _database_probe(background)]
    async with start_test_backend(features=features, config=config) as test:
        client = test.client
        # the background pool's only connection, held for the whole test
        async with background[0].connect():
            target = "https://example.com/pools/catalog-info.yaml"
            created = await client.post(
                "/api/catalog/locations", json={"type": "url", "target": target}
            )
            assert created.status_code == 201, created.text
            location = created.json()["location"]
            listed = await client.get("/api/catalog/locations")
            assert listed.json() == [{"data": location}]
            one = await client.get(f"/api/catalog/locations/{location['id']}")
            assert one.json() == location
            queried = await client.post(
                "/api/catalog/locations/by-query",
                json={"query": {"target": {"$hasPrefix": "https://example.com/pools/"}}},
            )
            assert queried.json()["items"] == [location]
            refreshed = await client.post(
                "/api/catalog/refresh", json={"entityRef": location["entityRef"]}
            )
            assert refreshed.status_code == 200, refreshed.text
            moved = await client.put(
                f"/api/catalog/locations/{location['id']}",
                json={"type": "url", "target": target + "?v=2"},
            )
            assert moved.status_code == 200, moved.text
            assert moved.json()["entityRef"] == location["entityRef"]
            again = await client.post(
                "/api/catalog/locations?onConflict=refresh",
                json={"type": "url", "target": target + "?v=2"},
            )
            assert again.status_code == 201, again.text
            deleted = await client.delete(f"/api/catalog/locations/{location['id']}")
            assert deleted.status_code == 204, deleted.text
            assert (await client.get("/api/catalog/locations")).json() == []
