"""Cache operations per second through `CacheService` against the raw client libraries.

For each store the same workload runs through the raw client and through the backend's
cache service (JSON encoding, plugin namespace, key encoding, per-call timeout, outage
handling): `--ops` sets then `--ops` gets of a small JSON document, `--concurrency` at a
time, every entry with a 60 s TTL. The raw side encodes and decodes the JSON itself, as a
plugin using the library directly would. Raw clients: redis-py for Redis, aiomcache for
memcached, aiocache's memory cache for the memory store.

Steadiness on a shared machine: one warm-up round per side is not counted, then `--rounds`
rounds alternate raw and service (which goes first alternates too), and the figures are
medians: of each side's ops/s, and of the paired per-round ratios (service / raw, the
headline; target >= 0.80). Prints a line per store and one JSON line.

Run: `uv run python benchmarks/cache/bench.py [--redis redis://127.0.0.1:6379]
[--memcached 127.0.0.1:11211] [--stores memory,redis,memcached]` (loopback servers only).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiomcache
import msgspec
import redis.asyncio as redis
from aiocache import SimpleMemoryCache
from aiocache.serializers import NullSerializer
from backstage_backend_defaults.cache import CacheManager
from backstage_backend_defaults.logger import create_root_logger
from backstage_common.config import Config

DOCUMENT = {"kind": "Component", "metadata": {"name": "bench", "tags": ["a", "b"]}, "n": 1}
TTL_SECONDS = 60
Call = Callable[[int], Awaitable[Any]]


@dataclass(frozen=True)
class Side:
    """One way of reaching the store: its set and get of entry `i`."""

    set_one: Call
    get_one: Call


async def _rate(ops: int, concurrency: int, call: Call) -> float:
    """Operations per second of `call(i)` for i in range(ops), `concurrency` at a time."""
    started = time.perf_counter()
    for start in range(0, ops, concurrency):
        await asyncio.gather(*(call(i) for i in range(start, min(start + concurrency, ops))))
    return ops / (time.perf_counter() - started)


async def _round(side: Side, args: argparse.Namespace) -> tuple[float, float]:
    """One round: ops/s over its set half and get half, and this process's CPU time per
    operation in microseconds (the client's own cost, less sensitive to other processes)."""
    cpu = time.process_time()
    set_rate = await _rate(args.ops, args.concurrency, side.set_one)
    get_rate = await _rate(args.ops, args.concurrency, side.get_one)
    cpu_us = (time.process_time() - cpu) / (2 * args.ops) * 1e6
    return 2 / (1 / set_rate + 1 / get_rate), cpu_us


async def _compare(raw: Side, service: Side, args: argparse.Namespace) -> dict[str, float]:
    await _round(raw, args)  # warm-up: connections, caches, allocator
    await _round(service, args)
    raw_rounds: list[tuple[float, float]] = []
    service_rounds: list[tuple[float, float]] = []
    for index in range(args.rounds):
        if index % 2 == 0:
            raw_rounds.append(await _round(raw, args))
            service_rounds.append(await _round(service, args))
        else:
            service_rounds.append(await _round(service, args))
            raw_rounds.append(await _round(raw, args))
    ratios = [s[0] / r[0] for s, r in zip(service_rounds, raw_rounds, strict=True)]
    return {
        "raw_ops_s": statistics.median(rate for rate, _ in raw_rounds),
        "service_ops_s": statistics.median(rate for rate, _ in service_rounds),
        "ratio": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "raw_cpu_us": statistics.median(cpu for _, cpu in raw_rounds),
        "service_cpu_us": statistics.median(cpu for _, cpu in service_rounds),
    }


def _manager(cache: dict[str, Any]) -> CacheManager:
    config = Config.from_data({"backend": {"cache": cache, "logging": {"level": "error"}}})
    return CacheManager(config, create_root_logger(config, write=lambda _: None, env={}))


async def _through_service(cache: dict[str, Any], raw: Side, args: argparse.Namespace) -> Any:
    manager = _manager(cache)
    client = manager.for_plugin(f"bench{uuid.uuid4().hex[:8]}")

    async def service_set(i: int) -> None:
        await client.set(f"key-{i}", DOCUMENT, ttl=TTL_SECONDS * 1000)

    async def service_get(i: int) -> None:
        await client.get(f"key-{i}")

    try:
        figures = await _compare(raw, Side(service_set, service_get), args)
        if await client.get(f"key-{args.ops - 1}") != DOCUMENT or manager.health.errors:
            raise SystemExit("the service did not read back what it wrote")
        return figures
    finally:
        await manager.close()


def _decode(data: bytes | None) -> Any:
    return None if data is None else msgspec.json.decode(data)


async def _memory(args: argparse.Namespace) -> dict[str, float]:
    raw = SimpleMemoryCache(serializer=NullSerializer(), timeout=None)
    prefix = f"raw-bench-{uuid.uuid4().hex[:8]}:"

    async def raw_set(i: int) -> None:
        await raw.set(f"{prefix}{i}", msgspec.json.encode(DOCUMENT), ttl=TTL_SECONDS)

    async def raw_get(i: int) -> None:
        _decode(await raw.get(f"{prefix}{i}"))

    try:
        figures: dict[str, float] = await _through_service(
            {"store": "memory"}, Side(raw_set, raw_get), args
        )
        return figures
    finally:
        await raw.clear()


async def _redis(args: argparse.Namespace) -> dict[str, float]:
    # redis-py's default 5 s socket timeout costs an `asyncio.wait_for` per write; the
    # service goes without it (its own deadlines bound each call), so the raw side does too
    raw = redis.Redis.from_url(args.redis, socket_timeout=None)
    prefix = f"raw-bench-{uuid.uuid4().hex[:8]}:"

    async def raw_set(i: int) -> None:
        await raw.set(f"{prefix}{i}", msgspec.json.encode(DOCUMENT), ex=TTL_SECONDS)

    async def raw_get(i: int) -> None:
        _decode(await raw.get(f"{prefix}{i}"))

    try:
        figures: dict[str, float] = await _through_service(
            {"store": "redis", "connection": args.redis}, Side(raw_set, raw_get), args
        )
        return figures
    finally:
        await raw.aclose()


async def _memcached(args: argparse.Namespace) -> dict[str, float]:
    host, _, port = args.memcached.rpartition(":")
    raw = aiomcache.Client(host, int(port), pool_size=4)
    prefix = f"raw-bench-{uuid.uuid4().hex[:8]}:"

    async def raw_set(i: int) -> None:
        key = f"{prefix}{i}".encode()
        await raw.set(key, msgspec.json.encode(DOCUMENT), exptime=TTL_SECONDS)

    async def raw_get(i: int) -> None:
        _decode(await raw.get(f"{prefix}{i}".encode()))

    try:
        figures: dict[str, float] = await _through_service(
            {"store": "memcache", "connection": args.memcached}, Side(raw_set, raw_get), args
        )
        return figures
    finally:
        await raw.close()


STORES = {"memory": _memory, "redis": _redis, "memcached": _memcached}


async def main(args: argparse.Namespace) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "ops": args.ops,
        "concurrency": args.concurrency,
        "rounds": args.rounds,
    }
    for store in args.stores.split(","):
        figures = await STORES[store](args)
        print(
            f"{store:10s} raw {figures['raw_ops_s']:8.0f} ops/s   service "
            f"{figures['service_ops_s']:8.0f} ops/s   ratio {figures['ratio']:.3f} "
            f"(rounds {figures['ratio_min']:.3f}..{figures['ratio_max']:.3f}; target >= 0.80)   "
            f"CPU/op raw {figures['raw_cpu_us']:.1f} us, "
            f"service {figures['service_cpu_us']:.1f} us",
            flush=True,
        )
        summary[store] = {
            key: round(value, 3) if key.startswith("ratio") else round(value, 1)
            for key, value in figures.items()
        }
    return summary


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--redis", default="redis://127.0.0.1:6379")
    parser.add_argument("--memcached", default="127.0.0.1:11211")
    parser.add_argument("--stores", default="memory,redis,memcached")
    parser.add_argument("--ops", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=11)
    print(json.dumps(asyncio.run(main(parser.parse_args()))))
