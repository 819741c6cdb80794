"""The stores behind the cache service: bytes in, bytes out, one key per operation.

Every operation names exactly one key, so in Redis Cluster mode no call ever spans two hash
slots (no `CROSSSLOT`). Network operations are bounded by `backend.cache.timeout`; one that
runs out raises `TimeoutError`, which the service reads as a miss.

Redis, Valkey (and Infinispan's RESP endpoint) go through redis-py's client, or its cluster
client; memcached through aiomcache, or with credentials through `_memcached_binary` (SASL);
the memory store is a map of this module. aiocache's Redis and memcached caches are not
used: the former cannot take a cluster client, and its per-call
timeout cancels aiomcache mid-answer and puts that connection back in the pool, where the
late answer would be read as the next command's.
"""

from __future__ import annotations

import asyncio
import heapq
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from backstage_backend_defaults.cache._deadlines import Deadlines
from backstage_backend_defaults.cache._settings import StoreSettings

__all__ = ["CacheStore", "create_store"]

_MEMCACHED_RELATIVE_LIMIT = 30 * 24 * 3600
"""memcached reads an expiry above 30 days as a Unix time, not as seconds from now."""

T = TypeVar("T")


async def _bounded(deadlines: Deadlines, call: Awaitable[T]) -> T:
    task = deadlines.start()
    try:
        return await call
    except asyncio.CancelledError:
        deadlines.raise_if_expired(task)
        raise
    finally:
        deadlines.finish(task)


class CacheStore(Protocol):
    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, ttl: float | None) -> None:
        """Store `value`; `ttl` in seconds, None for no expiry."""
        ...

    async def delete(self, key: str) -> None: ...

    async def close(self) -> None: ...


class MemoryStore:
    """One in-process map for every plugin of the backend, entries with their expiry.

    Written here rather than taken from aiocache's memory cache: importing aiocache imports
    its Redis and memcached backends, and with them redis-py, aiomcache, cryptography and
    part of OpenTelemetry's SDK (about 7 MB and 80 ms in every process of a unit whose store
    is memory). An expired entry is never returned; the heap of expiry times lets each
    `set` drop the entries whose time has passed, so expired values do not pile up.
    """

    def __init__(self) -> None:
        self._entries: dict[str, tuple[bytes, float]] = {}
        self._expiries: list[tuple[float, str]] = []

    async def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        value, expires = entry
        if expires <= time.monotonic():
            del self._entries[key]
            return None
        return value

    async def set(self, key: str, value: bytes, ttl: float | None) -> None:
        now = time.monotonic()
        self._drop_expired(now)
        expires = math.inf if ttl is None else now + ttl
        self._entries[key] = (value, expires)
        if ttl is not None:
            heapq.heappush(self._expiries, (expires, key))

    async def delete(self, key: str) -> None:
        self._entries.pop(key, None)

    async def close(self) -> None:
        self._entries.clear()
        self._expiries.clear()

    def _drop_expired(self, now: float) -> None:
        expiries = self._expiries
        while expiries and expiries[0][0] <= now:
            expires, key = heapq.heappop(expiries)
            entry = self._entries.get(key)
            if entry is not None and entry[1] == expires:  # not set again since
                del self._entries[key]


class RedisStore:
    """redis-py's client (a single server) or cluster client (`cluster.rootNodes`)."""

    def __init__(self, client: Any, timeout: float, *, cluster: bool) -> None:
        self._client = client
        self._deadlines = Deadlines(timeout)
        self._cluster = cluster
        self._undiscovered = cluster
        self._discovery: asyncio.Future[Any] | None = None

    async def _discover(self) -> None:
        """Learn the cluster's nodes and slots once, before the first call.

        redis-py (8.1) lets concurrent first calls race its own discovery, and some then
        write to a connection it has just closed; here they all wait for one discovery.
        """
        task = self._discovery
        if task is None or (task.done() and (task.cancelled() or task.exception() is not None)):
            task = self._discovery = asyncio.ensure_future(self._client.initialize())
        await asyncio.shield(task)  # a caller's timeout must not cancel it for the others
        self._undiscovered = False

    async def _call(self, call: Callable[[], Awaitable[T]]) -> T:
        if self._undiscovered:
            await _bounded(self._deadlines, self._discover())
        try:
            return await _bounded(self._deadlines, call())
        except TimeoutError:
            await self._drop_idle_connections()
            raise

    async def _drop_idle_connections(self) -> None:
        """After a timeout: redis-py closes a connection cancelled while reading, but one
        cancelled while still sending goes back to the pool with its answer to come."""
        if self._cluster:
            for node in self._client.get_nodes():
                await node.disconnect_free_connections()
        else:
            await self._client.connection_pool.disconnect(inuse_connections=False)

    async def get(self, key: str) -> bytes | None:
        value: bytes | None = await self._call(lambda: self._client.get(key))
        return value

    async def set(self, key: str, value: bytes, ttl: float | None) -> None:
        milliseconds = None if ttl is None else max(1, math.ceil(ttl * 1000))
        await self._call(lambda: self._client.set(key, value, px=milliseconds))

    async def delete(self, key: str) -> None:
        await self._call(lambda: self._client.delete(key))

    async def close(self) -> None:
        self._deadlines.close()
        await self._client.aclose()


def _memcached_expiry(ttl: float | None) -> int:
    if ttl is None:
        return 0
    seconds = max(1, math.ceil(ttl))  # memcached counts whole seconds
    if seconds > _MEMCACHED_RELATIVE_LIMIT:
        return int(time.time()) + seconds
    return seconds


class MemcachedStore:
    """aiomcache, with connections that a timed-out command leaves mid-answer closed."""

    def __init__(self, client: Any, timeout: float) -> None:
        self._client = client
        self._deadlines = Deadlines(timeout)

    async def get(self, key: str) -> bytes | None:
        value: bytes | None = await _bounded(self._deadlines, self._client.get(key.encode()))
        return value

    async def set(self, key: str, value: bytes, ttl: float | None) -> None:
        expiry = _memcached_expiry(ttl)
        await _bounded(self._deadlines, self._client.set(key.encode(), value, exptime=expiry))

    async def delete(self, key: str) -> None:
        await _bounded(self._deadlines, self._client.delete(key.encode()))

    async def close(self) -> None:
        self._deadlines.close()
        await self._client.close()


def _memcached_client(settings: StoreSettings) -> Any:
    import aiomcache
    from aiomcache.pool import Connection, MemcachePool

    class CancelSafePool(MemcachePool):
        """Closes, instead of pooling, a connection whose command was cancelled (a
        timeout): its answer may still arrive and would be read as the next command's."""

        def release(self, conn: Connection) -> None:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                conn.reader.set_exception(ConnectionAbortedError("command cancelled"))
            super().release(conn)

    pool_size = 4
    client = aiomcache.Client(settings.host, settings.port, pool_size=pool_size)
    client._pool = CancelSafePool(
        settings.host, settings.port, minsize=pool_size, maxsize=pool_size
    )
    return client


def _redis_client(settings: StoreSettings) -> Any:
    # No `socket_timeout` (redis-py's default is 5 s): the store's deadlines bound every
    # call, and redis-py would wrap each write in `asyncio.wait_for` (a task per call) and
    # each read in a timer.
    options: dict[str, Any] = {
        "username": settings.username,
        "password": settings.password,
        "ssl": settings.ssl,
        "socket_timeout": None,
        "socket_connect_timeout": settings.timeout,
    }
    if settings.cluster_nodes:
        from redis.asyncio.cluster import ClusterNode, RedisCluster
        from redis.cluster import LoadBalancingStrategy

        return RedisCluster(
            startup_nodes=[ClusterNode(host, port) for host, port in settings.cluster_nodes],
            # `useReplicas`: reads spread over primaries and replicas
            load_balancing_strategy=(
                LoadBalancingStrategy.ROUND_ROBIN if settings.read_from_replicas else None
            ),
            **options,
        )
    import redis.asyncio
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    return redis.asyncio.Redis(
        host=settings.host,
        port=settings.port,
        db=settings.db,
        # one immediate retry replaces a pooled connection the server has closed; more,
        # with redis-py's default backoff, would turn an outage into seconds per call
        retry=Retry(NoBackoff(), 1),
        **options,
    )


def _memcached_sasl_client(settings: StoreSettings) -> Any:
    from backstage_backend_defaults.cache._memcached_binary import BinaryMemcachedClient

    assert settings.username is not None
    assert settings.password is not None
    return BinaryMemcachedClient(
        settings.host,
        settings.port,
        username=settings.username,
        password=settings.password,
        connect_timeout=settings.timeout,
    )


def create_store(settings: StoreSettings) -> CacheStore:
    if settings.store == "memory":
        return MemoryStore()
    if settings.store == "memcache":
        # credentials need SASL, which needs the binary protocol; aiomcache has neither
        client = (
            _memcached_sasl_client(settings)
            if settings.username is not None
            else _memcached_client(settings)
        )
        return MemcachedStore(client, settings.timeout)
    cluster = bool(settings.cluster_nodes)
    return RedisStore(_redis_client(settings), settings.timeout, cluster=cluster)
