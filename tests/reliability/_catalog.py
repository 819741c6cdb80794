"""Catalog units for the reliability tests: real `backstage-py start --unit <name>` processes
with auth on, on the real Postgres and Redis (or on fault proxies in front of them), each
test with its own database prefix and cache namespace, cleaned up afterwards."""

from __future__ import annotations

import asyncio
import secrets
import shutil
import sys
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
import yaml
from backstage_backend_test_utils import TcpFaultProxy, deep_merge, require_service_url

from tests.deploy._processes import delete_cache_keys, drop_databases, free_port, wait_until
from tests.deploy._support import REPO_ROOT
from tests.deploy._units import (
    EXAMPLE_KINDS,
    EXAMPLES,
    WORK_TIMEOUT,
    UnitProcess,
    entity_ref,
    example_entities,
)

__all__ = [
    "Cluster",
    "ThreadedFaultProxy",
    "cluster",
    "component_documents",
    "example_refs",
    "fault_proxy",
    "read_rss_kib",
    "static_site",
]

T = TypeVar("T")


def example_refs() -> list[str]:
    return [entity_ref(entity) for entity in example_entities()]


def read_rss_kib(pid: int) -> int:
    """The resident set size of a process, from /proc/<pid>/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS in /proc/{pid}/status")


class ThreadedFaultProxy:
    """A `TcpFaultProxy` on an event loop of its own thread, so that tests driving real
    processes with blocking calls can fault a server without an event loop of their own."""

    def __init__(self, host: str, port: int) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._proxy = TcpFaultProxy(host, port)
        self.port: int = self._call(self._proxy.start)

    def _call(self, make: Callable[[], Awaitable[T]]) -> T:
        async def run() -> T:
            return await make()

        future: Future[T] = asyncio.run_coroutine_threadsafe(run(), self._loop)
        return future.result(timeout=30)

    def refuse(self) -> None:
        self._call(self._proxy.refuse)

    def blackhole(self) -> None:
        self._call(self._proxy.blackhole)

    def restore(self) -> None:
        self._call(self._proxy.restore)

    def close(self) -> None:
        try:
            self._call(self._proxy.close)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=30)
            self._loop.close()


@contextmanager
def static_site(directory: Path) -> Iterator[str]:
    """An HTTP server for the files of `directory` (url locations); its base URL."""

    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(directory), **kwargs)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def component_documents(names: list[str]) -> str:
    """A catalog file of one Component per name."""
    return yaml.safe_dump_all(
        [
            {
                "apiVersion": "backstage.io/v1alpha1",
                "kind": "Component",
                "metadata": {"name": name, "description": f"Component {name}"},
                "spec": {"type": "service", "lifecycle": "production", "owner": "guests"},
            }
            for name in names
        ],
        sort_keys=False,
    )


@contextmanager
def fault_proxy(url: str, default_port: int) -> Iterator[ThreadedFaultProxy]:
    """A fault proxy in front of the server of `url` (postgresql:// or redis://)."""
    parts = urlsplit(url)
    proxy = ThreadedFaultProxy(parts.hostname or "127.0.0.1", parts.port or default_port)
    try:
        yield proxy
    finally:
        proxy.close()


@dataclass
class Cluster:
    """Catalog units sharing one database prefix, cache namespace and external token."""

    root: Path
    prefix: str
    token: str
    postgres_url: str
    redis_url: str
    units: list[UnitProcess] = field(default_factory=list)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def add_unit(
        self,
        *,
        unit: str = "catalog",
        postgres: tuple[str, int] | None = None,
        redis_url: str | None = None,
        config: Mapping[str, Any] | None = None,
        locations: list[dict[str, Any]] | None = None,
    ) -> UnitProcess:
        """A unit (not started) as the image starts it: the production config, then this
        test's overlay (database prefix, cache namespace, the example catalog, `config`),
        then the unit's own listen port. `postgres` and `redis_url` default to the real
        servers; pass a fault proxy's address to put one in between. `locations` are
        configured after the example catalog's."""
        index = len(self.units)
        app = self.root / f"app{index}"
        (app / "deploy").mkdir(parents=True)
        shutil.copy(REPO_ROOT / "deploy/app-config.production.yaml", app / "app-config.yaml")
        shutil.copy(REPO_ROOT / "deploy/topology.yaml", app / "deploy/topology.yaml")
        port = free_port()
        overlay: dict[str, Any] = {
            "backend": {
                "listen": {"host": "127.0.0.1", "port": port},
                # one process, as these tests kill and count replicas (tests/workers
                # starts several workers)
                "workers": 1,
                "database": {"prefix": self.prefix},
                "cache": {"redis": {"client": {"namespace": self.prefix}}},
            },
            "catalog": {
                "locations": [
                    {
                        "type": "file",
                        "target": str(EXAMPLES / "all.yaml"),
                        "rules": [{"allow": EXAMPLE_KINDS}],
                    },
                    *(locations or []),
                ],
                "rules": [{"allow": EXAMPLE_KINDS}],
            },
        }
        overlay = deep_merge(overlay, dict(config or {}))
        (app / "app-config.test.yaml").write_text(yaml.safe_dump(overlay, sort_keys=False))
        pg = urlsplit(self.postgres_url)
        host, pg_port = postgres or (pg.hostname or "127.0.0.1", pg.port or 5432)
        env = {
            "PATH": str(Path(sys.executable).parent),
            "BACKSTAGE_BASE_URL": f"http://127.0.0.1:{port}",
            "POSTGRES_HOST": host,
            "POSTGRES_PORT": str(pg_port),
            "POSTGRES_USER": pg.username or "postgres",
            "BACKSTAGE_DATABASE_PASSWORD": pg.password or "",
            "BACKSTAGE_CACHE_URL": redis_url or self.redis_url,
            "BACKSTAGE_EXTERNAL_TOKEN": self.token,
            "BACKSTAGE_SHUTDOWN_DELAY": "0s",
        }
        script = str(Path(sys.executable).parent / "backstage-py")
        configs = ["--config", "app-config.yaml", "--config", "app-config.test.yaml"]
        process = UnitProcess(
            name=f"{unit}#{index}",
            port=port,
            command=[script, "start", "--unit", unit, *configs],
            cwd=app,
            env=env,
            log=self.root / f"{unit}{index}.log",
        )
        self.units.append(process)
        return process

    def describe(self) -> str:
        return "\n".join(unit.tail() for unit in self.units)

    def by_refs(self, unit: UnitProcess, refs: list[str], timeout: float = 30) -> list[Any]:
        response = httpx.post(
            f"{unit.url}/api/catalog/entities/by-refs",
            json={"entityRefs": refs, "fields": ["kind", "metadata.name"]},
            headers=self.headers,
            timeout=timeout,
        )
        assert response.status_code == 200, response.text
        items: list[Any] = response.json()["items"]
        return items

    def wait_served(
        self, unit: UnitProcess, refs: list[str], *, timeout: float = WORK_TIMEOUT
    ) -> float:
        """Wait until `unit` serves every entity of `refs`; how many seconds that took."""

        def served() -> bool:
            response = httpx.post(
                f"{unit.url}/api/catalog/entities/by-refs",
                json={"entityRefs": refs, "fields": ["kind"]},
                headers=self.headers,
                timeout=30,
            )
            return response.status_code == 200 and None not in response.json()["items"]

        begin = time.monotonic()
        wait_until(
            served,
            f"{unit.name} serving {len(refs)} entities",
            alive=[unit.running()],
            timeout=timeout,
            describe=self.describe,
        )
        return time.monotonic() - begin


@contextmanager
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    """A `Cluster` whose units are stopped, databases dropped and cache keys deleted at
    the end."""
    postgres = require_service_url("BACKSTAGE_TEST_POSTGRES_URL")
    redis_url = require_service_url("BACKSTAGE_TEST_REDIS_URL")
    found = Cluster(
        root=tmp_path,
        prefix=f"bsrel_{uuid.uuid4().hex[:10]}_",
        token=secrets.token_urlsafe(16),
        postgres_url=postgres,
        redis_url=redis_url,
    )
    try:
        yield found
    finally:
        for unit in found.units:
            unit.stop()
        asyncio.run(drop_databases(postgres, found.prefix))
        asyncio.run(delete_cache_keys(redis_url, found.prefix))
