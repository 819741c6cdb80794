"""The cache service with the TCP fault proxy between it and the real Redis or memcached:
during an outage (refused, then partitioned) every call is a miss within
`backend.cache.timeout` and none raises; once the server is back the cache works again
without a restart, and no answer held during the partition reaches another call (each key
reads its own value)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest
from backstage_backend_defaults.cache import CacheClient, CacheManager
from backstage_backend_defaults.logger import create_root_logger
from backstage_backend_test_utils import TcpFaultProxy, require_service_url, tcp_fault_proxy
from backstage_common.config import Config

TIMEOUT_MS = 300
# A call ends by the timeout; the margin is for a busy machine, not for the store.
CALL_BOUND = TIMEOUT_MS / 1000 + 2.0
RECOVERY_BOUND = 20.0


def _server(store: str) -> tuple[str, int]:
    if store == "redis":
        url = urlsplit(require_service_url("BACKSTAGE_TEST_REDIS_URL"))
        return url.hostname or "127.0.0.1", url.port or 6379
    address = require_service_url("BACKSTAGE_TEST_MEMCACHED_URL").removeprefix("memcache://")
    host, _, port = address.rpartition(":")
    return host, int(port)


@pytest.fixture(params=["redis", "memcache"])
async def proxied(
    request: pytest.FixtureRequest,
) -> AsyncIterator[tuple[TcpFaultProxy, CacheClient]]:
    store: str = request.param
    host, port = _server(store)
    async with tcp_fault_proxy(host, port) as proxy:
        connection = (
            f"redis://127.0.0.1:{proxy.port}" if store == "redis" else f"127.0.0.1:{proxy.port}"
        )
        cache = {"store": store, "connection": connection, "timeout": TIMEOUT_MS}
        config = Config.from_data({"backend": {"cache": cache, "logging": {"format": "json"}}})
        lines: list[bytes] = []
        manager = CacheManager(config, create_root_logger(config, write=lines.append, env={}))
        try:
            yield proxy, manager.for_plugin(f"reliability-{uuid.uuid4().hex[:8]}")
        finally:
            await manager.close()


async def _all_misses(cache: CacheClient, keys: list[str]) -> None:
    started = time.monotonic()
    # Writes of a key of their own: a write held by a partition may still land later.
    written = f"outage-{uuid.uuid4().hex}"
    await cache.set(written, "during the outage")
    assert await asyncio.gather(*(cache.get(key) for key in keys)) == [None] * len(keys)
    await cache.delete(written)
    assert time.monotonic() - started < 3 * CALL_BOUND


async def _works_again(cache: CacheClient, keys: list[str]) -> None:
    deadline = time.monotonic() + RECOVERY_BOUND
    while True:
        await asyncio.gather(*(cache.set(key, f"value of {key}") for key in keys))
        found = await asyncio.gather(*(cache.get(key) for key in keys))
        if found == [f"value of {key}" for key in keys]:
            return
        # Until every stuck connection is replaced a call may still miss; never a wrong value.
        for key, value in zip(keys, found, strict=True):
            assert value in (None, f"value of {key}"), (key, value)
        assert time.monotonic() < deadline, found
        await asyncio.sleep(0.2)


async def test_a_cache_outage_is_a_bounded_miss_and_heals(
    proxied: tuple[TcpFaultProxy, CacheClient],
) -> None:
    proxy, cache = proxied
    keys = [f"key-{index}" for index in range(8)]
    async with asyncio.timeout(120):  # a hang fails the test instead of stalling the run
        await _works_again(cache, keys)

        await proxy.refuse()
        await _all_misses(cache, keys)
        await proxy.restore()
        await _works_again(cache, keys)

        # A partition: pooled connections hang too; their late answers must not be taken
        # for the answers of later calls once the path is back.
        await proxy.blackhole()
        await _all_misses(cache, keys)
        await proxy.restore()
        await _works_again(cache, keys)
        for round_ in range(5):
            values = {key: f"{key} in round {round_}" for key in keys}
            await asyncio.gather(*(cache.set(key, value) for key, value in values.items()))
            assert await asyncio.gather(*(cache.get(key) for key in keys)) == list(values.values())
