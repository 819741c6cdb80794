"""Readiness follows the plugin databases in use: 503 naming the plugin while its database is
unreachable, 200 again once it answers."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import httpx
import pytest
from backstage_backend_defaults.health import BackendHealth
from backstage_backend_plugin_api import (
    PluginRegistrationPoints,
    create_backend_plugin,
)
from backstage_backend_plugin_api import core_services as core
from backstage_backend_test_utils import start_test_backend
from backstage_common.errors import ServiceUnavailableError
from sqlalchemy import text

READINESS = "/.backstage/health/v1/readiness"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def plugin_using_its_database(plugin_id: str, *, at_start: bool) -> Any:
    """A plugin that opens its database in its init (or leaves it for later)."""

    async def init(database: core.Database) -> None:
        if at_start:
            engine = await database.get_engine()
            async with engine.connect() as session:
                await session.execute(text("SELECT 1"))

    def register(env: PluginRegistrationPoints) -> None:
        env.register_init(init)

    return create_backend_plugin(plugin_id=plugin_id, register=register)


async def readiness_until(
    client: httpx.AsyncClient, status: int, attempts: int = 30
) -> httpx.Response:
    """Readiness once it reports `status` (the pool may need a probe or two to notice)."""
    response = await client.get(READINESS)
    for _ in range(attempts):
        if response.status_code == status:
            break
        await asyncio.sleep(0.1)
        response = await client.get(READINESS)
    return response


async def test_readiness_names_a_plugin_database_on_a_closed_port() -> None:
    port = closed_port()
    config = {
        "backend": {
            "database": {
                "client": "better-sqlite3",
                "connection": ":memory:",
                "plugin": {
                    "inventory": {
                        "client": "pg",
                        "connection": f"postgresql://app:very-secret@127.0.0.1:{port}/inv",
                    }
                },
            }
        }
    }
    features = [
        plugin_using_its_database("catalog", at_start=True),
        plugin_using_its_database("inventory", at_start=False),
    ]
    async with start_test_backend(features=features, config=config) as backend:
        assert (await backend.client.get(READINESS)).status_code == 200  # unused: not probed
        database = await backend.get_service(core.database, "inventory")
        with pytest.raises(ServiceUnavailableError):
            await database.get_engine()  # the plugin's first use, after start
        response = await backend.client.get(READINESS)
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "error"
        assert "Database of plugin 'inventory'" in body["message"]
        assert f"127.0.0.1:{port}" in body["message"]
        assert "catalog" not in body["message"]  # its SQLite database answers
        assert "very-secret" not in response.text


async def test_readiness_follows_a_database_that_goes_away_and_comes_back(
    postgres: tuple[dict[str, Any], str], tcp_proxy: Any
) -> None:
    connection, prefix = postgres
    proxy = await tcp_proxy((connection["host"], connection["port"]))
    config = {
        "backend": {
            "database": {
                "client": "pg",
                "connection": {**connection, "port": proxy.port},
                "prefix": prefix,
            }
        }
    }
    features = [plugin_using_its_database("catalog", at_start=True)]
    async with start_test_backend(features=features, config=config) as backend:
        assert (await backend.client.get(READINESS)).status_code == 200
        await proxy.stop()
        down = await readiness_until(backend.client, 503)
        assert down.status_code == 503
        assert "Database of plugin 'catalog'" in down.json()["message"]
        assert f"127.0.0.1:{proxy.port}/{prefix}catalog" in down.json()["message"]
        await proxy.start()
        up = await readiness_until(backend.client, 200)
        assert up.status_code == 200
        assert up.json() == {"status": "ok"}


async def test_a_database_down_at_first_use_is_ready_once_it_comes_back(
    postgres: tuple[dict[str, Any], str], tcp_proxy: Any
) -> None:
    connection, prefix = postgres
    proxy = await tcp_proxy((connection["host"], connection["port"]))
    await proxy.stop()  # the port is known, and nothing listens there yet
    config = {
        "backend": {
            "database": {
                "client": "pg",
                "connection": {**connection, "port": proxy.port},
                "prefix": prefix,
            }
        }
    }
    features = [plugin_using_its_database("catalog", at_start=False)]
    async with start_test_backend(features=features, config=config) as backend:
        database = await backend.get_service(core.database, "catalog")
        with pytest.raises(ServiceUnavailableError, match=f"127.0.0.1:{proxy.port}"):
            await database.get_engine()
        assert (await backend.client.get(READINESS)).status_code == 503
        await proxy.start()
        assert (await readiness_until(backend.client, 200)).status_code == 200
        engine = await database.get_engine()  # created by the probe, database ensured
        async with engine.connect() as session:
            assert (await session.execute(text("SELECT current_database()"))).scalar() == (
                f"{prefix}catalog"
            )


async def test_a_readiness_check_that_fails_or_hangs_is_a_problem_not_a_crash() -> None:
    health = BackendHealth(lifecycle=None)

    async def broken() -> list[str]:
        raise RuntimeError("probe exploded")

    async def fine() -> list[str]:
        return []

    health.add_readiness_check(fine)
    assert (await health.get_readiness()).status == 200
    health.add_readiness_check(broken)
    result = await health.get_readiness()
    assert result.status == 503
    assert result.payload == {
        "message": "A readiness check failed: RuntimeError: probe exploded",
        "status": "error",
    }
