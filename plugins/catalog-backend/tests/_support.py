"""Helpers for the processing tests: a probe module reaching the running catalog, and a
real local HTTP server serving catalog files."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from backstage_backend_plugin_api import BackendModule, create_backend_module
from backstage_plugin_catalog_backend._catalog import Catalog, CatalogExtensions
from backstage_plugin_catalog_node import CatalogProcessing


@dataclass
class Probe:
    extensions: list[CatalogExtensions] = field(default_factory=list)

    @property
    def catalog(self) -> Catalog:
        catalog = self.extensions[0].catalog
        assert catalog is not None
        return catalog

    async def idle(self) -> None:
        await self.catalog.processing.wait_until_idle()


def probe_module(probe: Probe) -> BackendModule:
    def register(env: Any) -> None:
        async def init(processing: CatalogProcessing) -> None:
            assert isinstance(processing, CatalogExtensions)
            probe.extensions.append(processing)

        env.register_init(init)

    return create_backend_module(plugin_id="catalog", module_id="test-probe", register=register)


@dataclass
class Served:
    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass
class FileServer:
    base_url: str
    files: dict[str, Served]
    requests: list[str]
    conditional: list[str]
    """Paths answered 304 Not Modified."""

    def put(self, path: str, body: str | bytes, status: int = 200, **headers: str) -> str:
        data = body.encode() if isinstance(body, str) else body
        self.files[path] = Served(status, data, headers)
        return self.base_url + path


@contextmanager
def serve_files() -> Iterator[FileServer]:
    """A real HTTP server on a free port of 127.0.0.1, in a thread."""
    files: dict[str, Served] = {}
    requests: list[str] = []
    conditional: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append(self.path)
            served = files.get(self.path, Served(404, b"not found"))
            etag = served.headers.get("etag")
            if etag is not None and self.headers.get("If-None-Match") == etag:
                conditional.append(self.path)
                self.send_response(304)
                self.end_headers()
                return
            self.send_response(served.status)
            for key, value in served.headers.items():
                self.send_header(key.replace("_", "-"), value)
            self.send_header("Content-Length", str(len(served.body)))
            self.end_headers()
            self.wfile.write(served.body)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base_url = f"http://127.0.0.1:{server.server_address[1]}"
        yield FileServer(base_url, files, requests, conditional)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
