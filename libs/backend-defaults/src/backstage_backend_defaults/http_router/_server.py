"""The HTTP server: granian, embedded in the backend's own event loop."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from backstage_backend_plugin_api import RootConfigService
from backstage_common.errors import InputError
from granian.constants import Interfaces
from granian.server.embed import Server
from litestar.types import ASGIApp

__all__ = ["HttpServer", "ListenOptions", "read_listen_options"]


@dataclass(frozen=True)
class ListenOptions:
    host: str
    port: int


def _parse_port(value: object, key: str) -> int:
    try:
        port = int(str(value))
    except ValueError:
        raise InputError(f"Invalid port '{value}' in '{key}'") from None
    if not 0 < port < 65536:
        raise InputError(f"Invalid port {port} in '{key}', it must be between 1 and 65535")
    return port


def read_listen_options(config: RootConfigService) -> ListenOptions:
    """`backend.listen`: `'<port>'`, `'<host>:<port>'` or `{host, port}`; default `:7007`."""
    value = config.get_optional("backend.listen")
    host, port = "", 7007
    if isinstance(value, dict):
        host = config.get_optional_string("backend.listen.host") or ""
        raw_port = config.get_optional("backend.listen.port")
        if raw_port is not None:
            port = _parse_port(raw_port, "backend.listen.port")
    elif isinstance(value, int | str) and not isinstance(value, bool):
        text = str(value)
        if ":" in text:
            host, _, raw = text.rpartition(":")
            port = _parse_port(raw, "backend.listen")
        else:
            port = _parse_port(text, "backend.listen")
    elif value is not None:
        raise InputError("Invalid 'backend.listen', use '<port>', '<host>:<port>' or {host, port}")
    host = host.strip("[]")
    return ListenOptions(host=host or "0.0.0.0", port=port)


class HttpServer:
    """Serves an ASGI app until `stop()`; `start()` returns once the port accepts."""

    def __init__(self, app: ASGIApp, listen: ListenOptions) -> None:
        self._listen = listen
        self._server = Server(
            app,
            address=listen.host,
            port=listen.port,
            interface=Interfaces.ASGINL,
            websockets=False,
            log_enabled=False,
            backlog=1024,
        )
        self._task: asyncio.Task[None] | None = None

    @property
    def listen(self) -> ListenOptions:
        return self._listen

    async def start(self, timeout: float = 10.0) -> None:
        self._task = asyncio.create_task(self._server.serve())
        probe_host = "127.0.0.1" if self._listen.host in ("0.0.0.0", "") else self._listen.host
        probe_host = "::1" if probe_host == "::" else probe_host
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            if self._task.done():
                error = self._task.exception()
                raise InputError(
                    f"Could not listen on {self._listen.host}:{self._listen.port}: {error}"
                )
            try:
                _, writer = await asyncio.open_connection(probe_host, self._listen.port)
            except OSError:
                if asyncio.get_running_loop().time() > deadline:
                    raise InputError(
                        f"Could not listen on {self._listen.host}:{self._listen.port}: "
                        "the server did not accept connections in time"
                    ) from None
                await asyncio.sleep(0.005)
                continue
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            return

    async def stop(self) -> None:
        if self._task is None:
            return
        if not self._task.done():
            self._server.stop()  # type: ignore[no-untyped-call]
        with contextlib.suppress(Exception):
            await self._task
        self._task = None
