"""Cache operations per second through `CacheService` against the raw client libraries.

For each store (Redis through redis-py, memcached through aiomcache) the same workload runs
through the raw client and through the backend's cache service (JSON encoding, plugin
namespace, key encoding, outage handling, aiocache): `--ops` sets then `--ops` gets of a
small JSON document, `--concurrency` at a time, best of `--repeats`. Prints a line per store
and a JSON line with ops/s and the service/raw ratio (target >= 0.80).

Run: `uv run python benchmarks/cache/bench.py [--redis redis://127.0.0.1:6379]
[--memcached 127.0.0.1:11211]` (servers on loopback only).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiomcache
import msgspec
import redis.asyncio as redis
from backstage_backend_defaults.cache import CacheManager
from backstage_backend_defaults.logger import create_root_logger
from backstage_common.config import Config

DOCUMENT = {"kind": "Component", "metadata": {"name": "bench", "tags": ["a", "b"]}, "n": 1}
PAYLOAD = msgspec.json.encode(DOCUMENT)


async def _run(ops: int, concurrency: int, call: Callable[[int], Awaitable[Any]]) -> float:
    """Operations per second of `call(i)` for i in range(ops), `concurrency` at a time."""
    started = time.perf_counter()
    for start in range(0, ops, concurrency):
        await asyncio.gather(*(call(i) for i in range(start, min(start + concurrency, ops))))
    return ops / (time.perf_counter() - started)


async def _set_get(
    ops: int,
    concurrency: int,
    repeats: int,
    set_one: Callable[[int], Awaitable[Any]],
    get_one: Callable[[int], Awaitable[Any]],
) -> float:
    best = 0.0
    for _ in range(repeats):
        set_rate = await _run(ops, concurrency, set_one)
        get_rate = await _run(ops, concurrency, get_one)
        best = max(best, 2 / (1 / set_rate + 1 / get_rate))  # ops/s over both halves
    return best


def _service(cache: dict[str, Any]) -> CacheManager:
    config = Config.from_data({"backend": {"cache": cache, "logging": {"level": "error"}}})
    return CacheManager(config, create_root_logger(config, write=lambda _: None, env={}))


async def _compare(
    manager: CacheManager,
    raw_set: Callable[[int], Awaitable[Any]],
    raw_get: Callable[[int], Awaitable[Any]],
    args: argparse.Namespace,
) -> dict[str, float]:
    """The raw client's set/get rate, then the cache service's on the same server."""
    cache = manager.for_plugin("bench")

    async def service_set(i: int) -> None:
        await cache.set(f"key-{i}", DOCUMENT)

    async def service_get(i: int) -> None:
        await cache.get(f"key-{i}")

    common = (args.ops, args.concurrency, args.repeats)
    raw_rate = await _set_get(*common, raw_set, raw_get)
    service_rate = await _set_get(*common, service_set, service_get)
    if await cache.get(f"key-{args.ops - 1}") != DOCUMENT or manager.health.errors:
        raise SystemExit("the service did not read back what it wrote")
    return {"raw_ops_s": raw_rate, "service_ops_s": service_rate}


async def _redis(url: str, args: argparse.Namespace) -> dict[str, float]:
    raw = redis.Redis.from_url(url)
    manager = _service({"store": "redis", "connection": url})

    async def raw_set(i: int) -> None:
        await raw.set(f"raw-bench:{i}", PAYLOAD)

    async def raw_get(i: int) -> None:
        msgspec.json.decode(await raw.get(f"raw-bench:{i}") or b"null")

    try:
        return await _compare(manager, raw_set, raw_get, args)
    finally:
        await raw.aclose()
        await manager.close()


async def _memcached(address: str, args: argparse.Namespace) -> dict[str, float]:
    host, _, port = address.rpartition(":")
    raw = aiomcache.Client(host, int(port), pool_size=4)
    manager = _service({"store": "memcache", "connection": address})

    async def raw_set(i: int) -> None:
        await raw.set(f"raw-bench:{i}".encode(), PAYLOAD)

    async def raw_get(i: int) -> None:
        msgspec.json.decode(await raw.get(f"raw-bench:{i}".encode()) or b"null")

    try:
        return await _compare(manager, raw_set, raw_get, args)
    finally:
        await raw.close()
        await manager.close()


async def main(args: argparse.Namespace) -> dict[str, Any]:
    results = {
        "redis": await _redis(args.redis, args),
        "memcached": await _memcached(args.memcached, args),
    }
    summary: dict[str, Any] = {"ops": args.ops, "concurrency": args.concurrency}
    for store, figures in results.items():
        ratio = figures["service_ops_s"] / figures["raw_ops_s"]
        print(
            f"{store:10s} raw {figures['raw_ops_s']:8.0f} ops/s   service "
            f"{figures['service_ops_s']:8.0f} ops/s   ratio {ratio:.3f} (target >= 0.80)"
        )
        summary[store] = {key: round(value) for key, value in figures.items()}
        summary[store]["ratio"] = round(ratio, 3)
    return summary


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--redis", default="redis://127.0.0.1:6379")
    parser.add_argument("--memcached", default="127.0.0.1:11211")
    parser.add_argument("--ops", type=int, default=20000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    print(json.dumps(asyncio.run(main(parser.parse_args()))))
    sys.exit(0)
