"""Fixtures shared by the database, cache and health tests: a real Postgres with throwaway
databases, and a loopback TCP proxy a test can take away and bring back."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest
from backstage_backend_test_utils import require_service_url


async def databases_with_prefix(connection: dict[str, Any], prefix: str) -> list[str]:
    admin = await asyncpg.connect(database="postgres", **connection)
    try:
        rows = await admin.fetch(
            "SELECT datname FROM pg_database WHERE datname LIKE $1", prefix + "%"
        )
    finally:
        await admin.close()
    return sorted(row[0] for row in rows)


@pytest.fixture
async def postgres() -> AsyncIterator[tuple[dict[str, Any], str]]:
    """The test server's connection, and a unique prefix whose databases are dropped after."""
    url = urlsplit(require_service_url("BACKSTAGE_TEST_POSTGRES_URL"))
    connection = {
        "host": url.hostname or "127.0.0.1",
        "port": url.port or 5432,
        "user": url.username or "postgres",
        **({"password": url.password} if url.password else {}),
    }
    prefix = f"bstest_{uuid.uuid4().hex[:10]}_"
    yield connection, prefix
    names = await databases_with_prefix(connection, prefix)
    admin = await asyncpg.connect(database="postgres", **connection)
    try:
        for name in names:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


class TcpProxy:
    """A loopback TCP proxy to a real server, so a test can take the server away.

    `openings` keeps the first bytes each client sent (a Postgres startup message names the
    database the client asks for).
    """

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = 0
        self.openings: list[bytes] = []
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.StreamWriter] = set()

    async def start(self) -> TcpProxy:
        """Listen (again, on the same port once it has one) and forward every connection."""
        self._server = await asyncio.start_server(
            self._handle, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.close()
            return
        self._pipes.update({writer, up_writer})
        opening = bytearray()
        self.openings.append(b"")
        index = len(self.openings) - 1

        async def pump(
            source: asyncio.StreamReader, sink: asyncio.StreamWriter, record: bool
        ) -> None:
            try:
                while data := await source.read(65536):
                    if record and len(opening) < 1024:
                        opening.extend(data)
                        self.openings[index] = bytes(opening)
                    sink.write(data)
                    await sink.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                sink.close()

        await asyncio.gather(pump(reader, up_writer, True), pump(up_reader, writer, False))

    async def stop(self) -> None:
        """Stop listening and cut every connection: the server is gone for the clients."""
        if self._server is not None:
            self._server.close()
            for pipe in self._pipes:
                pipe.close()
            self._pipes.clear()
            await self._server.wait_closed()
            self._server = None


@pytest.fixture
async def tcp_proxy() -> AsyncIterator[Callable[[tuple[str, int]], Awaitable[TcpProxy]]]:
    """`await tcp_proxy((host, port))` starts a proxy; every proxy is stopped after the test."""
    proxies: list[TcpProxy] = []

    async def start(upstream: tuple[str, int]) -> TcpProxy:
        proxy = TcpProxy(upstream)
        proxies.append(proxy)
        return await proxy.start()

    yield start
    for proxy in proxies:
        await proxy.stop()
