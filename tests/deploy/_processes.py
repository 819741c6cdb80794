"""Real processes on loopback for the deployment tests: free ports, waits with deadlines,
stopping what a test started, the test's databases and cache keys, and nginx configured
from the topology."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

import asyncpg
import httpx
import redis.asyncio as redis
from backstage_cli.topology import render_nginx

from ._support import topology

__all__ = [
    "delete_cache_keys",
    "drop_databases",
    "free_port",
    "start_nginx",
    "stop",
    "wait_until",
]

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(
    check: Callable[[], T | None],
    what: str,
    *,
    alive: Sequence[subprocess.Popen[bytes]] = (),
    timeout: float = 60.0,
    describe: Callable[[], str] = lambda: "",
) -> T:
    """Call `check` until it returns something other than None or False (connection
    errors count as not yet) and return that; fail when a process in `alive` exits first or
    `timeout` seconds pass, with `describe()` (e.g. a log tail) in the message."""
    deadline = time.monotonic() + timeout
    while True:
        for process in alive:
            if process.poll() is not None:
                raise AssertionError(
                    f"{what}: process {process.args!r} exited early with {process.returncode}"
                    f"\n{describe()}"
                )
        try:
            result = check()
        except httpx.TransportError:
            result = None
        if result is not None and result is not False:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} did not happen within {timeout:.0f}s\n{describe()}")
        time.sleep(0.1)


STOP_WAIT_SECONDS = 45.0
"""Longer than a unit's own bound on its shutdown (`shutdownTimeout`, 30 s by default, and
the workers' grace), so that a slow shutdown ends as the unit ends it, with its warnings
in the log, instead of killed by the test."""


def stop(process: subprocess.Popen[bytes], signum: int) -> tuple[bytes, bytes]:
    """Send `signum` (if it still runs) and wait up to `STOP_WAIT_SECONDS`; killed after."""
    if process.poll() is None:
        process.send_signal(signum)
    try:
        out, err = process.communicate(timeout=STOP_WAIT_SECONDS)
        return out or b"", err or b""
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)


async def drop_databases(url: str, prefix: str) -> None:
    """Drop the databases named with this test's `prefix` (and only those)."""
    parts = urlsplit(url)
    admin = await asyncpg.connect(
        host=parts.hostname, port=parts.port or 5432, user=parts.username or "postgres",
        password=parts.password, database="postgres",
    )  # fmt: skip
    try:
        rows = await admin.fetch(
            "SELECT datname FROM pg_database WHERE datname LIKE $1", prefix + "%"
        )
        for row in rows:
            await admin.execute(f'DROP DATABASE IF EXISTS "{row[0]}" WITH (FORCE)')
    finally:
        await admin.close()


async def delete_cache_keys(url: str, namespace: str) -> None:
    """Delete the Redis keys under this test's cache `namespace` (and only those)."""
    client = redis.Redis.from_url(url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{namespace}:*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


def start_nginx(
    nginx: str, runtime: Path, *, ports: Mapping[str, int], listen_port: int
) -> subprocess.Popen[bytes]:
    """nginx in the foreground with the config rendered from the topology, each unit at
    `127.0.0.1:<ports[unit]>` (a free port for the units `ports` leaves out), listening on
    `127.0.0.1:<listen_port>`; its pid file, logs and temporary files under `runtime`.
    Returns once it answers."""
    runtime.mkdir(parents=True, exist_ok=True)
    conf = runtime / "nginx.conf"
    # A unit the test does not run gets a free port: nginx answers 502 for its paths.
    ports = {name: ports.get(name) or free_port() for name in topology().units}
    rendered = render_nginx(
        topology(),
        upstream=lambda name: f"127.0.0.1:{ports[name]}",
        listen=f"127.0.0.1:{listen_port}",
        runtime_dir=runtime,
    )
    if os.geteuid() == 0:
        # Started as root, nginx's workers would run as `nobody`, who cannot write large
        # request bodies into the test's private temporary folder.
        rendered = "user root;\n" + rendered
    conf.write_text(rendered)
    command = [nginx, "-p", str(runtime), "-c", str(conf)]
    tested = subprocess.run([*command, "-t"], capture_output=True, text=True, check=False)
    assert tested.returncode == 0, tested.stderr
    proxy = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{listen_port}"
    try:
        wait_until(
            lambda: httpx.get(f"{url}/api/nothing").status_code == 404,
            "nginx listening",
            alive=[proxy],
        )
    except BaseException:
        stop(proxy, signal.SIGQUIT)
        raise
    return proxy
