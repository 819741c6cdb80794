"""The catalog's entity reads over HTTP on a seeded Postgres catalog.

Starts a backend with the catalog plugin on a database of its own, seeds `--entities`
entities, then measures: the whole catalog through the streamed `GET /entities` (time,
bytes, and the server's peak memory growth while it streams), `GET /entities/by-query`
first and cursor pages (limit 20, ordered by name, two-key filter), `POST /entities/by-refs`
with 200 refs, and `GET /entity-facets` for kind and spec.type. Best of `--repeats`.

Run: `uv run python benchmarks/catalog/reads.py [--postgres postgresql://postgres@127.0.0.1:5432/postgres]
[--entities 20000]`
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import sqlalchemy as sa
from _seed import seed
from backstage_backend_plugin_api import core_services as core
from backstage_backend_test_utils import start_test_backend
from backstage_plugin_catalog_backend import catalog_plugin


async def _best(repeats: int, call: Callable[[], Awaitable[Any]]) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        await call()
        best = min(best, time.perf_counter() - started)
    return best * 1000


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def _reset_peak_rss() -> float:
    """Reset the process's peak RSS (Linux) and return the current RSS in MB."""
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")
    return _status_mb("VmRSS")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--entities", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    url = urlsplit(args.postgres)
    connection = {"host": url.hostname, "port": url.port or 5432, "user": url.username}
    prefix = f"bench_reads_{uuid.uuid4().hex[:8]}_"
    database = {"client": "pg", "connection": connection, "prefix": prefix}
    config = {"backend": {"database": database, "logging": {"level": "error"}}}
    try:
        async with start_test_backend(features=[catalog_plugin()], config=config) as test:
            service = await test.get_service(core.database, "catalog")
            engine = await service.get_engine()
            async with engine.begin() as db:
                refs = await seed(db, args.entities)
            async with engine.begin() as db:
                await db.execute(sa.text("ANALYZE"))
            client = test.client
            client.timeout = 300

            rss_before = _reset_peak_rss()
            received = 0

            async def stream_all() -> None:
                nonlocal received
                received = 0
                async with client.stream("GET", "/api/catalog/entities") as response:
                    async for chunk in response.aiter_bytes():
                        received += len(chunk)

            elapsed = await _best(min(args.repeats, 2), stream_all)
            growth = _status_mb("VmHWM") - rss_before
            print(
                f"GET /entities (stream {args.entities}): {elapsed:.0f} ms, "
                f"{received / 1e6:.1f} MB, peak RSS growth {growth:.0f} MB"
            )
            query = {
                "filter": "kind=component,spec.lifecycle=production",
                "orderField": "metadata.name,asc",
                "limit": "20",
            }
            first = await client.get("/api/catalog/entities/by-query", params=query)
            cursor = first.json()["pageInfo"]["nextCursor"]
            for title, call in (
                (
                    "by-query first page",
                    lambda: client.get("/api/catalog/entities/by-query", params=query),
                ),
                (
                    "by-query first page, totalItems=exclude",
                    lambda: client.get(
                        "/api/catalog/entities/by-query", params={**query, "totalItems": "exclude"}
                    ),
                ),
                (
                    "by-query cursor page",
                    lambda: client.get(
                        "/api/catalog/entities/by-query", params={"cursor": cursor, "limit": "20"}
                    ),
                ),
                (
                    "by-refs 200 refs",
                    lambda: client.post(
                        "/api/catalog/entities/by-refs",
                        json={"entityRefs": random.Random(1).sample(refs, 200)},
                    ),
                ),
                (
                    "facets kind, spec.type",
                    lambda: client.get(
                        "/api/catalog/entity-facets", params={"facet": ["kind", "spec.type"]}
                    ),
                ),
            ):
                print(f"{title}: {await _best(args.repeats, call):.1f} ms")
    finally:
        admin = await asyncpg.connect(args.postgres)
        try:
            for row in await admin.fetch(
                "SELECT datname FROM pg_database WHERE datname LIKE $1", prefix + "%"
            ):
                await admin.execute(f'DROP DATABASE IF EXISTS "{row[0]}" WITH (FORCE)')
        finally:
            await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
