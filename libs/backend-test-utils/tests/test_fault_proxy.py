"""The fault proxy in front of the real Postgres: passes, refuses, blackholes, recovers."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import asyncpg
import pytest
from backstage_backend_test_utils import require_service_url, tcp_fault_proxy

pytestmark = pytest.mark.services


def _target() -> tuple[str, int]:
    url = urlsplit(require_service_url("BACKSTAGE_TEST_POSTGRES_URL"))
    return url.hostname or "127.0.0.1", url.port or 5432


async def _select_one(port: int, timeout: float = 5) -> int:
    connection = await asyncpg.connect(
        host="127.0.0.1", port=port, user="postgres", database="postgres", timeout=timeout
    )
    try:
        return int(await connection.fetchval("SELECT 1", timeout=timeout))
    finally:
        connection.terminate()


async def test_passes_then_refuses_then_recovers_on_the_same_port() -> None:
    async with tcp_fault_proxy(*_target()) as proxy:
        assert await _select_one(proxy.port) == 1
        await proxy.refuse()
        with pytest.raises(ConnectionRefusedError):
            await _select_one(proxy.port)
        await proxy.restore()
        assert await _select_one(proxy.port) == 1


async def test_refuse_resets_open_connections() -> None:
    async with tcp_fault_proxy(*_target()) as proxy:
        connection = await asyncpg.connect(
            host="127.0.0.1", port=proxy.port, user="postgres", database="postgres"
        )
        await proxy.refuse()
        with pytest.raises((OSError, asyncpg.exceptions.ConnectionDoesNotExistError)):
            await connection.fetchval("SELECT 1", timeout=5)
        connection.terminate()


async def test_blackhole_holds_an_open_connection_until_restored() -> None:
    async with tcp_fault_proxy(*_target()) as proxy:
        connection = await asyncpg.connect(
            host="127.0.0.1", port=proxy.port, user="postgres", database="postgres"
        )
        try:
            await proxy.blackhole()
            query = asyncio.ensure_future(connection.fetchval("SELECT 42"))
            done, _ = await asyncio.wait([query], timeout=0.5)
            assert not done, "a query got through the blackhole"
            with pytest.raises(TimeoutError):
                await _select_one(proxy.port, timeout=0.5)
            await proxy.restore()
            assert await asyncio.wait_for(query, 5) == 42
        finally:
            connection.terminate()
