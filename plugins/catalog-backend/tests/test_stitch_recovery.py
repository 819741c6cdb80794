"""The catalog recovers from a database drop within two processing intervals: a failed
stitch hands its lease back instead of holding its entities unserved for a stitch timeout,
and a failed processing write its claim instead of waiting for the next interval."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
from backstage_backend_test_utils import (
    TcpFaultProxy,
    TestBackend,
    start_test_backend,
    tcp_fault_proxy,
)
from backstage_common.config import Config
from backstage_common.errors import InputError
from backstage_plugin_catalog_backend import catalog_plugin
from backstage_plugin_catalog_backend._catalog import _processing_options

from ._support import FileServer, serve_files

_INTERVAL_SECONDS = 5.0
_COMPONENTS = 20
_WAIT = httpx.Timeout(60.0)
_BLOCKED_WRITE = """
SELECT count(*) FROM pg_locks AS l JOIN pg_class AS c ON c.oid = l.relation
WHERE NOT l.granted AND c.relname = $1 AND l.mode = 'RowExclusiveLock'
"""


def _components(count: int, lifecycle: str) -> str:
    return "".join(
        "---\napiVersion: backstage.io/v1alpha1\nkind: Component\n"
        f"metadata: {{name: c{index}}}\n"
        f"spec: {{type: service, lifecycle: {lifecycle}, owner: team-a}}\n"
        for index in range(count)
    )


async def _served(client: httpx.AsyncClient, lifecycle: str) -> int:
    """How many components are served with this lifecycle."""
    response = await client.get(
        "/api/catalog/entities",
        params={"filter": f"kind=component,spec.lifecycle={lifecycle}"},
        timeout=_WAIT,
    )
    assert response.status_code == 200, response.text
    return len(response.json())


async def _until(condition: Any, seconds: float) -> float:
    """Poll `condition` until true; returns the seconds it took, fails after `seconds`."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while not await condition():
        if loop.time() - start > seconds:
            raise AssertionError(f"not within {seconds} s")
        await asyncio.sleep(0.1)
    return loop.time() - start


@dataclass
class Setup:
    test: TestBackend
    server: FileServer
    proxy: TcpFaultProxy
    direct: asyncpg.Connection
    """Straight to the catalog's database, not through the proxy."""

    async def all_served(self, lifecycle: str) -> bool:
        return await _served(self.test.client, lifecycle) == _COMPONENTS

    async def blocked(self, table: str) -> bool:
        return bool(await self.direct.fetchval(_BLOCKED_WRITE, table))

    async def drop_database(self) -> None:
        await self.proxy.refuse()
        await asyncio.sleep(0.5)
        await self.proxy.restore()


@asynccontextmanager
async def catalog_behind_proxy(
    postgres_config: dict[str, Any], catalog: dict[str, Any]
) -> AsyncIterator[Setup]:
    real = postgres_config["connection"]
    with serve_files() as server:
        port = server.base_url.rsplit(":", 1)[1]
        async with tcp_fault_proxy(real["host"], real["port"]) as proxy:
            config = {
                "backend": {
                    "database": {
                        **postgres_config,
                        "connection": {**real, "host": "127.0.0.1", "port": proxy.port},
                    },
                    "reading": {"allow": [{"host": f"127.0.0.1:{port}"}]},
                },
                "catalog": catalog,
            }
            async with start_test_backend(features=[catalog_plugin()], config=config) as test:
                database = f"{postgres_config['prefix']}catalog"
                direct = await asyncpg.connect(database=database, **real)
                try:
                    yield Setup(test, server, proxy, direct)
                finally:
                    await direct.close()


async def _register(setup: Setup, lifecycle: str) -> None:
    target = setup.server.put("/repo/catalog-info.yaml", _components(_COMPONENTS, lifecycle))
    created = await setup.test.client.post(
        "/api/catalog/locations", json={"type": "url", "target": target}, timeout=_WAIT
    )
    assert created.status_code == 201, created.text


async def _register_change(setup: Setup, lifecycle: str) -> None:
    setup.server.put("/repo/catalog-info.yaml", _components(_COMPONENTS, lifecycle))


async def test_entities_are_served_within_two_intervals_after_a_drop_during_stitching(
    postgres_config: dict[str, Any],
) -> None:
    catalog = {
        "processingInterval": f"{_INTERVAL_SECONDS:g}s",
        # a lease far longer than the bound below: only handing it back after the failure
        # can bring the entities back in time
        "stitchingStrategy": {"mode": "deferred", "stitchTimeout": "60s"},
    }
    async with catalog_behind_proxy(postgres_config, catalog) as setup:
        await _register(setup, "production")
        await _until(lambda: setup.all_served("production"), 60.0)
        # Writes to final entities wait, so that the stitch of the changed entities is
        # under way (claimed, leased, in its transaction) when the database goes;
        # processing is done with them by then, so nothing but the stitch queue can bring
        # them back.
        async with setup.direct.transaction():
            await setup.direct.execute("LOCK TABLE final_entities IN SHARE ROW EXCLUSIVE MODE")
            await _register_change(setup, "experimental")
            await _until(lambda: setup.blocked("final_entities"), 60.0)
            leased = await setup.direct.fetchval(
                "SELECT count(*) FROM stitch_queue "
                "WHERE next_stitch_at > now() + interval '30 seconds'"
            )
            assert leased == _COMPONENTS  # the configured timeout is the lease
            await setup.drop_database()
        await _until(lambda: setup.all_served("experimental"), 2 * _INTERVAL_SECONDS)


async def test_a_write_the_database_dropped_is_processed_again_once_it_is_back(
    postgres_config: dict[str, Any],
) -> None:
    # Processed entities are claimed until their next processing, a minute away here:
    # only handing the claim back after the failed write brings them in sooner.
    catalog = {"processingInterval": "60s"}
    async with catalog_behind_proxy(postgres_config, catalog) as setup:
        async with setup.direct.transaction():
            # The new location's processing writes (its relations first) wait, and are
            # under way when the database goes.
            await setup.direct.execute("LOCK TABLE relations IN SHARE ROW EXCLUSIVE MODE")
            await _register(setup, "production")
            await _until(lambda: setup.blocked("relations"), 60.0)
            await setup.drop_database()
        await _until(lambda: setup.all_served("production"), 20.0)


def test_the_stitch_timeout_defaults_to_the_shorter_of_60_s_and_the_interval() -> None:
    def options(catalog: dict[str, Any]) -> tuple[float, float]:
        processing = _processing_options(Config.from_data({"catalog": catalog}))
        return processing.stitch_timeout, processing.poll_seconds

    assert options({}) == (60.0, 1.0)
    assert options({"processingInterval": "10s"}) == (10.0, 1.0)
    assert options({"processingInterval": "5m"}) == (60.0, 1.0)
    assert options({"processingInterval": False}) == (60.0, 1.0)
    assert options(
        {
            "processingInterval": "10s",
            "stitchingStrategy": {
                "mode": "deferred",
                "stitchTimeout": {"seconds": 90},
                "pollingInterval": "500ms",
            },
        }
    ) == (90.0, 0.5)


@pytest.mark.parametrize(
    "strategy",
    [{"mode": "immediate"}, {"stitchTimeout": "0s"}, {"pollingInterval": "soon"}],
)
def test_a_bad_stitching_strategy_is_refused(strategy: dict[str, Any]) -> None:
    with pytest.raises(InputError, match=r"catalog\.stitchingStrategy"):
        _processing_options(Config.from_data({"catalog": {"stitchingStrategy": strategy}}))


async def test_a_stitch_cut_short_by_shutdown_hands_its_leases_back(
    postgres_config: dict[str, Any],
) -> None:
    catalog = {"processingInterval": "5s", "stitchingStrategy": {"stitchTimeout": "60s"}}
    async with catalog_behind_proxy(postgres_config, catalog) as setup:
        await _register(setup, "production")
        await _until(lambda: setup.all_served("production"), 60.0)
        # the stitch of the changed entities waits on the lock when the backend stops
        await setup.direct.execute("BEGIN")
        await setup.direct.execute("LOCK TABLE final_entities IN SHARE ROW EXCLUSIVE MODE")
        await _register_change(setup, "experimental")
        await _until(lambda: setup.blocked("final_entities"), 60.0)
        await setup.test.backend.stop()
        await setup.direct.execute("ROLLBACK")
        # due now for another replica, not in a minute
        leased = await setup.direct.fetchval(
            "SELECT count(*) FROM stitch_queue WHERE next_stitch_at > now() + interval '30 seconds'"
        )
        assert leased == 0
