"""Ingestion of one file location holding N Components: time from backend start until the
catalog is idle (all processed and stitched), on SQLite in memory and, when
BACKSTAGE_TEST_POSTGRES_URL is set, on a fresh Postgres database (dropped afterwards).

    uv run python benchmarks/catalog_processing/bench.py [N ...]
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
from backstage_backend_plugin_api import create_backend_module
from backstage_backend_test_utils import start_test_backend
from backstage_plugin_catalog_backend import catalog_plugin
from backstage_plugin_catalog_node import CatalogProcessing


def catalog_file(directory: Path, count: int) -> Path:
    path = directory / "catalog.yaml"
    documents = [
        "apiVersion: backstage.io/v1alpha1\nkind: Component\n"
        f"metadata: {{name: service-{index}, tags: [java, web]}}\n"
        f"spec: {{type: service, lifecycle: production, owner: team-{index % 50}, "
        f"providesApis: [api-{index}]}}\n"
        for index in range(count)
    ]
    path.write_text("---\n".join(documents))
    return path


async def run(database: dict[str, Any], count: int) -> float:
    found: list[Any] = []

    def register(env: Any) -> None:
        async def init(processing: CatalogProcessing) -> None:
            found.append(processing)

        env.register_init(init)

    probe = create_backend_module(plugin_id="catalog", module_id="bench", register=register)
    with tempfile.TemporaryDirectory() as directory:
        path = catalog_file(Path(directory), count)
        config = {
            "backend": {"database": database},
            "catalog": {"locations": [{"type": "file", "target": str(path)}]},
        }
        start = time.perf_counter()
        async with start_test_backend(features=[catalog_plugin(), probe], config=config) as test:
            await found[0].catalog.processing.wait_until_idle()
            elapsed = time.perf_counter() - start
            response = await test.client.get("/api/catalog/entities")
            assert len(response.json()) == count + 1, len(response.json())
    return elapsed


async def drop(connection: dict[str, Any], prefix: str) -> None:
    admin = await asyncpg.connect(database="postgres", **connection)
    try:
        for row in await admin.fetch(
            "SELECT datname FROM pg_database WHERE datname LIKE $1", prefix + "%"
        ):
            await admin.execute(f'DROP DATABASE IF EXISTS "{row[0]}" WITH (FORCE)')
    finally:
        await admin.close()


async def main(counts: list[int]) -> None:
    targets: list[tuple[str, dict[str, Any], Any]] = [
        ("sqlite", {"client": "better-sqlite3", "connection": ":memory:"}, None)
    ]
    url = os.environ.get("BACKSTAGE_TEST_POSTGRES_URL")
    if url:
        parts = urlsplit(url)
        connection = {
            "host": parts.hostname or "127.0.0.1",
            "port": parts.port or 5432,
            "user": parts.username or "postgres",
        }
        if parts.password:
            connection["password"] = parts.password
        targets.append(("postgres", {"client": "pg", "connection": connection}, connection))
    for name, database, connection in targets:
        for count in counts:
            prefix = f"bench_{uuid.uuid4().hex[:10]}_"
            if connection is not None:
                database = {**database, "prefix": prefix}
            try:
                elapsed = await run(database, count)
            finally:
                if connection is not None:
                    await drop(connection, prefix)
            print(
                f"{name:8} {count:7d} entities  {elapsed:7.2f} s  {count / elapsed:8.0f} entities/s"
            )


if __name__ == "__main__":
    asyncio.run(main([int(arg) for arg in sys.argv[1:]] or [1000, 5000]))
