"""Fixtures shared by the database, cache and health tests: a real Postgres with throwaway
databases, a local Redis Cluster, and a loopback TCP proxy a test can take away and bring
back (or slow down)."""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest
from backstage_backend_test_utils import REQUIRE_SERVICES_ENV, require_service_url


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
        self.reply_delay = 0.0
        """Seconds each chunk of the server's answers is held back (a slow server)."""
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
                    if not record and self.reply_delay:
                        await asyncio.sleep(self.reply_delay)
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


def require_binary(name: str) -> str:
    """The path of program `name`; without it the test is skipped, or fails when
    `BACKSTAGE_TEST_REQUIRE_SERVICES=1` (the policy of `require_service_url`)."""
    path = shutil.which(name)
    if path:
        return path
    reason = f"{name} is not installed: this test runs a real server"
    if os.environ.get(REQUIRE_SERVICES_ENV) == "1":
        pytest.fail(f"{reason}, and {REQUIRE_SERVICES_ENV}=1 requires it")
    pytest.skip(reason)


def _cluster_ports(count: int) -> list[int]:
    """Free ports whose cluster bus port (port + 10000) is free too."""
    ports: list[int] = []
    while len(ports) < count:
        port = random.randint(20000, 45000)
        try:
            for candidate in (port, port + 10000):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", candidate))
        except OSError:
            continue
        if port not in ports:
            ports.append(port)
    return ports


def _cluster_ready(cli: str, ports: list[int]) -> bool:
    for port in ports:
        info = subprocess.run(
            [cli, "-p", str(port), "cluster", "info"], capture_output=True, text=True, timeout=10
        )
        if "cluster_state:ok" not in info.stdout:
            return False
    return True


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[tuple[str, int]]]:
    """A three-primary Redis Cluster on free loopback ports, for this test session."""
    server = require_binary("redis-server")
    cli = require_binary("redis-cli")
    folder: Path = tmp_path_factory.mktemp("redis-cluster")
    ports = _cluster_ports(3)
    processes = []
    try:
        for port in ports:
            command = [
                server,
                *("--cluster-enabled", "yes", "--port", str(port), "--bind", "127.0.0.1"),
                *("--cluster-config-file", str(folder / f"nodes-{port}.conf")),
                *("--dir", str(folder), "--save", "", "--appendonly", "no"),
                *("--daemonize", "no"),
            ]
            with (folder / f"redis-{port}.log").open("wb") as log:
                processes.append(
                    subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=folder)
                )
        for port in ports:  # each node answers before the cluster is formed
            for _ in range(100):
                ping = subprocess.run([cli, "-p", str(port), "ping"], capture_output=True)
                if ping.stdout.strip() == b"PONG":
                    break
                time.sleep(0.05)
        nodes = [f"127.0.0.1:{port}" for port in ports]
        subprocess.run(
            [cli, "--cluster", "create", *nodes, "--cluster-replicas", "0", "--cluster-yes"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        for _ in range(200):
            if _cluster_ready(cli, ports):
                break
            time.sleep(0.05)
        else:
            pytest.fail(f"the Redis Cluster on ports {ports} never reached cluster_state:ok")
        yield [("127.0.0.1", port) for port in ports]
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=10)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


SASL_USER = "backstage"
SASL_PASSWORD = "s3cr@t:pw"  # an `@` and a `:`: percent-encoded in a connection string


@pytest.fixture(scope="session")
def sasl_memcached() -> Iterator[dict[str, Any]]:
    """Debian's memcached with SASL on (`-S`, binary protocol only) on a free loopback port,
    with one user in a sasldb of its own, for this session: `host`, `port`, `username`,
    `password`."""
    memcached = require_binary("memcached")
    saslpasswd2 = require_binary("saslpasswd2")
    # readable by the user memcached drops to (pytest's own temporary folders are not)
    folder = Path(tempfile.mkdtemp(prefix="memcached-sasl-"))
    folder.chmod(0o755)
    sasldb = folder / "sasldb2"
    subprocess.run(
        [saslpasswd2, "-p", "-a", "memcached", "-c", "-f", str(sasldb), SASL_USER],
        input=SASL_PASSWORD.encode(),
        check=True,
        capture_output=True,
    )
    sasldb.chmod(0o644)
    (folder / "memcached.conf").write_text(f"mech_list: plain\nsasldb_path: {sasldb}\n")
    port = _free_port()
    command = [memcached, "-S", "-l", "127.0.0.1", "-p", str(port), "-U", "0", "-m", "16"]
    if os.geteuid() == 0:
        command += ["-u", "nobody"]
    env = {**os.environ, "SASL_CONF_PATH": str(folder)}
    with (folder / "memcached.log").open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None:
                    pytest.fail(f"memcached -S exited: {(folder / 'memcached.log').read_text()}")
                time.sleep(0.05)
        else:
            pytest.fail(f"memcached -S never listened on port {port}")
        yield {"host": "127.0.0.1", "port": port, "username": SASL_USER, "password": SASL_PASSWORD}
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)
