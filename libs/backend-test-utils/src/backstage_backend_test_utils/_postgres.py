"""Databases of their own on the test Postgres, for tests that need a real server."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from backstage_backend_test_utils._services import require_service_url

__all__ = ["postgres_database_config"]


async def _drop_databases(connection: dict[str, Any], prefix: str) -> None:
    admin = await asyncpg.connect(database="postgres", **connection)
    try:
        rows = await admin.fetch(
            "SELECT datname FROM pg_database WHERE datname LIKE $1", prefix + "%"
        )
        for row in rows:
            await admin.execute(f'DROP DATABASE IF EXISTS "{row[0]}" WITH (FORCE)')
    finally:
        await admin.close()


@asynccontextmanager
async def postgres_database_config(label: str = "") -> AsyncIterator[dict[str, Any]]:
    """`backend.database` on the server of `BACKSTAGE_TEST_POSTGRES_URL`, with a prefix of
    its own (`bstest_<label>_<random>_`), so each plugin gets a fresh database; every
    database under the prefix is dropped on exit. Skips (or fails, where services are
    required) without the server::

        async with postgres_database_config() as database:
            config = {"backend": {"database": database}}
    """
    url = urlsplit(require_service_url("BACKSTAGE_TEST_POSTGRES_URL"))
    connection: dict[str, Any] = {
        "host": url.hostname or "127.0.0.1",
        "port": url.port or 5432,
        "user": url.username or "postgres",
        **({"password": url.password} if url.password else {}),
    }
    middle = f"{label}_" if label else ""
    prefix = f"bstest_{middle}{uuid.uuid4().hex[:10]}_"
    try:
        yield {"client": "pg", "connection": connection, "prefix": prefix}
    finally:
        await _drop_databases(connection, prefix)
