"""One contract for every cache store: memory, and real Redis, Redis Cluster and memcached
(plain, and with SASL) servers."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from backstage_backend_defaults.cache import CacheManager, stored_key
from backstage_backend_defaults.logger import create_root_logger
from backstage_backend_plugin_api import CacheService
from backstage_backend_test_utils import require_service_url
from backstage_common.config import Config
from backstage_common.errors import InputError

STORES = ["memory", "redis", "redis-cluster", "memcache", "memcache-sasl"]


def cluster_config(nodes: list[tuple[str, int]]) -> dict[str, Any]:
    root_nodes = [{"url": f"redis://{host}:{port}"} for host, port in nodes]
    return {"store": "redis", "redis": {"cluster": {"rootNodes": root_nodes}}}


def sasl_connection(server: dict[str, Any], port: int | None = None) -> str:
    """Backstage's `user:pass@host:port`, the user and password percent-encoded."""
    credentials = f"{quote(server['username'], safe='')}:{quote(server['password'], safe='')}"
    return f"{credentials}@{server['host']}:{port or server['port']}"


def store_config(store: str, request: pytest.FixtureRequest) -> dict[str, Any]:
    if store == "memory":
        return {"store": "memory"}
    if store == "redis":
        return {"store": "redis", "connection": require_service_url("BACKSTAGE_TEST_REDIS_URL")}
    if store == "redis-cluster":  # started only for the tests that use it
        return cluster_config(request.getfixturevalue("redis_cluster"))
    if store == "memcache-sasl":  # Debian's memcached started with -S
        return {
            "store": "memcache",
            "connection": sasl_connection(request.getfixturevalue("sasl_memcached")),
        }
    url = require_service_url("BACKSTAGE_TEST_MEMCACHED_URL")
    return {"store": "memcache", "connection": url.removeprefix("memcache://")}


def manager_for(cache: dict[str, Any], lines: list[bytes] | None = None) -> CacheManager:
    config = Config.from_data({"backend": {"cache": cache, "logging": {"format": "json"}}})
    logger = create_root_logger(config, write=(lines if lines is not None else []).append, env={})
    return CacheManager(config, logger)


@pytest.fixture(params=STORES)
async def manager(request: pytest.FixtureRequest) -> AsyncIterator[CacheManager]:
    made = manager_for(store_config(request.param, request))
    yield made
    await made.close()


def unique(name: str) -> str:
    return f"{name}-{id(object())}-{asyncio.get_running_loop().time()}"


async def test_get_set_delete_round_trip_json_values(manager: CacheManager) -> None:
    cache: CacheService = manager.for_plugin("catalog")
    key = unique("entity")
    value = {"kind": "Component", "tags": ["a", "b"], "n": 3, "ok": True, "none": None}
    assert await cache.get(key) is None
    await cache.set(key, value)
    assert await cache.get(key) == value
    await cache.delete(key)
    assert await cache.get(key) is None


async def test_plugins_never_see_each_others_keys(manager: CacheManager) -> None:
    catalog, search = manager.for_plugin("catalog"), manager.for_plugin("search")
    key = unique("shared-name")
    await catalog.set(key, "from catalog")
    await search.set(key, "from search")
    assert await catalog.get(key) == "from catalog"
    assert await search.get(key) == "from search"
    await search.delete(key)
    assert await catalog.get(key) == "from catalog"


async def test_ttl_expires_entries_and_default_ttl_applies(manager: CacheManager) -> None:
    cache = manager.for_plugin("catalog")
    short, default = unique("short"), unique("default")
    await cache.set(short, 1, ttl=timedelta(seconds=1))
    await cache.with_options(default_ttl=1000).set(default, 2)  # milliseconds
    assert await cache.get(short) == 1
    assert await cache.get(default) == 2
    await asyncio.sleep(2.2)
    assert await cache.get(short) is None
    assert await cache.get(default) is None


async def test_a_ttl_over_thirty_days_is_still_a_ttl(manager: CacheManager) -> None:
    # memcached reads an expiry above 30 days as a Unix time: sent as such, not as 1970
    cache = manager.for_plugin("catalog")
    key = unique("month")
    await cache.set(key, "kept", ttl=timedelta(days=31))
    assert await cache.get(key) == "kept"


async def test_large_values_unicode_and_very_long_keys(manager: CacheManager) -> None:
    cache = manager.for_plugin("catalog")
    large = {"blob": "x" * 500_000}
    unicode_key = unique("ключ 🔑 with spaces")
    long_key = unique("k" * 1000)  # far past memcached's 250-byte key limit: hashed
    await cache.set(unicode_key, large)
    await cache.set(long_key, "long")
    assert await cache.get(unicode_key) == large
    assert await cache.get(long_key) == "long"
    assert await cache.get(long_key + "x") is None


async def test_concurrent_access(manager: CacheManager) -> None:
    cache = manager.for_plugin("catalog")
    keys = [unique(f"c{index}") for index in range(50)]
    await asyncio.gather(*(cache.set(key, index) for index, key in enumerate(keys)))
    values = await asyncio.gather(*(cache.get(key) for key in keys))
    assert values == list(range(50))


async def test_values_must_be_json_and_ttls_positive() -> None:
    cache = manager_for({"store": "memory"}).for_plugin("catalog")
    with pytest.raises(InputError, match="JSON"):
        await cache.set("k", {"when": object()})  # type: ignore[dict-item]
    with pytest.raises(InputError, match="positive"):
        await cache.set("k", 1, ttl=-5)


async def test_an_unreachable_store_is_a_miss_logged_once_and_counted() -> None:
    lines: list[bytes] = []
    manager = manager_for({"store": "redis", "connection": "redis://127.0.0.1:1"}, lines)
    cache = manager.for_plugin("catalog")
    await cache.set("k", 1)  # no error
    assert await cache.get("k") is None
    await cache.delete("k")
    assert manager.health.errors == 3
    warnings = [line for line in lines if b"Cache set failed" in line]
    assert len(warnings) == 1  # rate-limited
    assert b"127.0.0.1:1" in warnings[0]
    await manager.close()


async def test_the_cache_works_again_when_the_store_comes_back(tcp_proxy: Any) -> None:
    url = urlsplit(require_service_url("BACKSTAGE_TEST_REDIS_URL"))
    # a TCP proxy in front of the real Redis, which the test stops and restarts
    proxy = await tcp_proxy((url.hostname or "127.0.0.1", url.port or 6379))
    manager = manager_for({"store": "redis", "connection": f"redis://127.0.0.1:{proxy.port}"})
    cache = manager.for_plugin("catalog")
    key = unique("comeback")
    try:
        await cache.set(key, "before")
        assert await cache.get(key) == "before"
        await proxy.stop()
        assert await cache.get(key) is None  # outage: a miss, not an error
        await proxy.start()
        for _ in range(50):
            if await cache.get(key) == "before":
                break
            await asyncio.sleep(0.1)
        assert await cache.get(key) == "before"
    finally:
        await manager.close()


def test_unknown_store_and_missing_connection_are_clear_errors() -> None:
    with pytest.raises(InputError, match="Unknown cache store 'mongo'"):
        manager_for({"store": "mongo"})
    with pytest.raises(InputError, match=r"backend\.cache\.connection is required"):
        manager_for({"store": "redis"})


def test_redis_namespace_prefixes_every_key() -> None:
    manager = manager_for(
        {
            "store": "redis",
            "connection": "redis://app:secret@cache.example:6380/2",
            "redis": {"client": {"namespace": "team-a"}},
        }
    )
    assert manager.settings.namespace == "team-a:"
    assert (manager.settings.host, manager.settings.port, manager.settings.db) == (
        "cache.example",
        6380,
        2,
    )
    assert manager.settings.username == "app"
    assert "secret" not in manager.settings.describe()


def test_tls_only_for_rediss_urls() -> None:
    assert manager_for({"store": "redis", "connection": "redis://h:1"}).settings.ssl is False
    assert manager_for({"store": "redis", "connection": "rediss://h:1"}).settings.ssl is True


async def test_infinispan_speaks_resp_tested_against_redis_as_the_protocol_peer() -> None:
    # No Infinispan server can be installed here; its RESP endpoint speaks the Redis
    # protocol, so a real Redis stands in for it.
    url = urlsplit(require_service_url("BACKSTAGE_TEST_REDIS_URL"))
    manager = manager_for(
        {
            "store": "infinispan",
            "infinispan": {"servers": [{"host": url.hostname, "port": url.port or 6379}]},
        }
    )
    assert manager.settings.describe() == f"infinispan at {url.hostname}:{url.port or 6379}"
    cache = manager.for_plugin("catalog")
    key = unique("ispn")
    try:
        await cache.set(key, {"via": "resp"})
        assert await cache.get(key) == {"via": "resp"}
        assert manager.health.errors == 0
    finally:
        await manager.close()


def test_infinispan_settings_as_backstage_reads_them() -> None:
    manager = manager_for(
        {
            "store": "infinispan",
            "infinispan": {
                "servers": {"host": "ispn.example", "port": 11322},
                "authentication": {"enabled": True, "userName": "app", "password": "pw"},
                "ssl": {"enabled": True},
            },
        }
    )
    settings = manager.settings
    assert (settings.host, settings.port, settings.username, settings.ssl) == (
        "ispn.example",
        11322,
        "app",
        True,
    )
    assert manager_for({"store": "infinispan"}).settings.port == 11222


async def test_cluster_mode_spreads_keys_over_the_nodes_without_crossslot(
    redis_cluster: list[tuple[str, int]],
) -> None:
    import redis.asyncio as redis

    manager = manager_for(cluster_config(redis_cluster))
    assert manager.settings.describe().startswith("redis cluster at 127.0.0.1:")
    plugin = f"spread{uuid.uuid4().hex}"
    cache = manager.for_plugin(plugin)
    try:
        # many first calls at once, while the client is still discovering the cluster
        await asyncio.gather(*(cache.set(f"k{index}", index) for index in range(30)))
        values = await asyncio.gather(*(cache.get(f"k{index}") for index in range(30)))
        assert values == list(range(30))
        await cache.delete("k0")
        assert await cache.get("k0") is None
        assert manager.health.errors == 0  # no MOVED, no CROSSSLOT, no miss
    finally:
        await manager.close()
    holding = 0
    for host, port in redis_cluster:
        node = redis.Redis(host=host, port=port)
        try:
            keys = [key async for key in node.scan_iter(match=f"{plugin}:*")]
        finally:
            await node.aclose()
        holding += 1 if keys else 0
    assert holding >= 2  # a real cluster: the plugin's keys live on several primaries


def test_cluster_settings_as_backstage_reads_them() -> None:
    manager = manager_for(
        {
            "store": "valkey",
            "valkey": {
                "cluster": {
                    "rootNodes": [{"url": "redis://a.example:7000"}, {"url": "redis://b:7001"}],
                    "defaults": {"username": "app", "password": "secret"},
                    "useReplicas": True,
                },
                "client": {"keyPrefix": "team:"},
            },
        }
    )
    settings = manager.settings
    assert settings.cluster_nodes == (("a.example", 7000), ("b", 7001))
    assert (settings.username, settings.password, settings.read_from_replicas) == (
        "app",
        "secret",
        True,
    )
    assert settings.namespace == "team:"
    assert "secret" not in settings.describe()


async def _blackhole() -> asyncio.Server:
    """A server that accepts connections and never answers."""

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.read(65536):
            pass
        writer.close()

    return await asyncio.start_server(swallow, "127.0.0.1", 0)


@pytest.mark.parametrize("store", ["memcache", "memcache-sasl", "redis"])
async def test_a_server_that_never_answers_is_a_miss_within_the_timeout(store: str) -> None:
    server = await _blackhole()
    port = server.sockets[0].getsockname()[1]
    connection = {
        "memcache": f"127.0.0.1:{port}",
        "memcache-sasl": f"user:pw@127.0.0.1:{port}",
        "redis": f"redis://127.0.0.1:{port}",
    }[store]
    kind = store.removesuffix("-sasl")
    manager = manager_for({"store": kind, "connection": connection, "timeout": 200})
    cache = manager.for_plugin("catalog")
    try:
        async with asyncio.timeout(30):  # a hang fails the test instead of stalling it
            await cache.set("k", 1)
            assert await cache.get("k") is None
            await cache.delete("k")
            # every pooled connection is stuck now: the next calls still end in a miss
            assert await asyncio.gather(*(cache.get(f"k{i}") for i in range(8))) == [None] * 8
        assert manager.health.errors == 11
    finally:
        await manager.close()
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize("sasl", [False, True], ids=["plain", "sasl"])
async def test_a_timed_out_memcached_answer_never_reaches_another_call(
    tcp_proxy: Any, sasl: bool, request: pytest.FixtureRequest
) -> None:
    if sasl:
        server = request.getfixturevalue("sasl_memcached")
        proxy = await tcp_proxy((server["host"], server["port"]))
        connection = sasl_connection(server, proxy.port)
    else:
        address = require_service_url("BACKSTAGE_TEST_MEMCACHED_URL").removeprefix("memcache://")
        host, _, port = address.rpartition(":")
        proxy = await tcp_proxy((host, int(port)))
        connection = f"127.0.0.1:{proxy.port}"
    manager = manager_for({"store": "memcache", "connection": connection, "timeout": 200})
    cache = manager.for_plugin("catalog")
    first, second = unique("first"), unique("second")
    try:
        await cache.set(first, "one")
        await cache.set(second, "two")
        proxy.reply_delay = 0.5  # longer than the timeout
        assert await cache.get(first) is None  # timed out: a miss
        proxy.reply_delay = 0.0
        await asyncio.sleep(0.7)  # the late answer to the first call has arrived by now
        # every pooled connection in turn: each answers its own call
        assert [await cache.get(second) for _ in range(8)] == ["two"] * 8
        assert manager.health.errors == 1
    finally:
        await manager.close()


def test_timeout_is_read_as_milliseconds_or_a_duration() -> None:
    assert manager_for({"store": "memory"}).settings.timeout == 2.0
    assert manager_for({"store": "memory", "timeout": 250}).settings.timeout == 0.25
    assert manager_for({"store": "memory", "timeout": "3s"}).settings.timeout == 3.0
    with pytest.raises(InputError, match=r"backend\.cache\.timeout"):
        manager_for({"store": "memory", "timeout": -1})


async def test_a_stored_value_that_is_not_json_reads_as_a_miss() -> None:
    import redis.asyncio as redis

    url = require_service_url("BACKSTAGE_TEST_REDIS_URL")
    manager = manager_for({"store": "redis", "connection": url})
    plugin = f"foreign{uuid.uuid4().hex}"
    raw = redis.Redis.from_url(url)
    try:
        await raw.set(stored_key(f"{plugin}:", "k"), b"\xff not json", ex=60)
        assert await manager.for_plugin(plugin).get("k") is None
        assert manager.health.errors == 1
    finally:
        await raw.aclose()
        await manager.close()


async def test_sasl_connections_authenticate_again_after_an_outage(
    tcp_proxy: Any, sasl_memcached: dict[str, Any]
) -> None:
    proxy = await tcp_proxy((sasl_memcached["host"], sasl_memcached["port"]))
    manager = manager_for(
        {"store": "memcache", "connection": sasl_connection(sasl_memcached, proxy.port)}
    )
    cache = manager.for_plugin("catalog")
    key = unique("sasl-comeback")
    try:
        await cache.set(key, "before")
        assert await cache.get(key) == "before"
        await proxy.stop()  # every authenticated connection is cut
        assert await cache.get(key) is None  # an outage: a miss
        await proxy.start()
        for _ in range(50):
            if await cache.get(key) == "before":
                break
            await asyncio.sleep(0.1)
        errors = manager.health.errors
        # every pooled connection in turn: one the server closed is replaced, not used
        assert [await cache.get(key) for _ in range(8)] == ["before"] * 8
        assert manager.health.errors == errors
        # each new connection sent SASL PLAIN (opcode 0x21) before its first command
        assert all(b"\x80\x21" in opening for opening in proxy.openings)
        assert len(proxy.openings) >= 2
    finally:
        await manager.close()
