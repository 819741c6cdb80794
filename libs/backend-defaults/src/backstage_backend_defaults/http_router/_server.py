"""The HTTP server: granian, embedded in the backend's own event loop."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import timedelta

from backstage_backend_plugin_api import RootConfigService
from backstage_common.durations import read_optional_duration
from backstage_common.errors import InputError
from granian.constants import HTTPModes, Interfaces
from granian.http import HTTP1Settings
from granian.server.embed import Server
from litestar.types import ASGIApp

__all__ = [
    "HttpServer",
    "ListenOptions",
    "ServerTimeouts",
    "read_listen_options",
    "read_server_timeouts",
]


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


@dataclass(frozen=True)
class ServerTimeouts:
    """Node's `http.Server` timeouts, in seconds, under `backend.server`."""

    headers: float = 60.0
    """`headersTimeout`: a request's headers must arrive within this."""
    request: float = 60.0
    """`requestTimeout`: the whole request, body included, must arrive within this. Node's
    default is 300 s; a body held open that long costs a connection and a handler for
    nothing, and a 10 MB body (the default limit) arrives in 60 s at 170 kB/s."""
    keep_alive: float = 5.0
    """`keepAliveTimeout`: an idle connection is closed after this."""

    @property
    def header_read(self) -> float:
        """granian (hyper) has one timer for a connection waiting for a request's headers,
        whether it is new, idle between requests or part-way through them: the shorter of
        the two timeouts."""
        return min(self.headers, self.keep_alive)


def _read_timeout(config: RootConfigService, key: str, default: float) -> float:
    value = read_optional_duration(config, key)
    if value is None:
        return default
    if value <= timedelta(0):
        raise InputError(f"Invalid '{key}', it must be longer than zero")
    return value.total_seconds()


def read_server_timeouts(config: RootConfigService) -> ServerTimeouts:
    """`backend.server.headersTimeout`, `requestTimeout` and `keepAliveTimeout`: durations,
    or milliseconds as Node's options; defaults 60 s, 60 s and 5 s."""
    defaults = ServerTimeouts()
    return ServerTimeouts(
        headers=_read_timeout(config, "backend.server.headersTimeout", defaults.headers),
        request=_read_timeout(config, "backend.server.requestTimeout", defaults.request),
        keep_alive=_read_timeout(config, "backend.server.keepAliveTimeout", defaults.keep_alive),
    )


class HttpServer:
    """Serves an ASGI app until `stop()`; `start()` returns once the port accepts.

    HTTP/1.1 only, as Node's server: granian's HTTP/2 detection reads a new connection's
    first bytes with no deadline, so a connection that sends nothing would stay open.
    """

    def __init__(
        self, app: ASGIApp, listen: ListenOptions, timeouts: ServerTimeouts | None = None
    ) -> None:
        self._listen = listen
        header_read = (timeouts or ServerTimeouts()).header_read
        self._server = Server(
            app,
            address=listen.host,
            port=listen.port,
            interface=Interfaces.ASGINL,
            http=HTTPModes.http1,
            http1_settings=HTTP1Settings(header_read_timeout=max(1, round(header_read * 1000))),
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

    async def stop(self, timeout: float | None = None) -> bool:
        """Stop accepting connections and close the open ones once their requests end.

        Args:
            timeout: seconds to wait for that; after them the server is stopped by force:
                the port is closed at once, and the connections still open are left to end
                with the process (granian does not close them). A connection part-way through
                a request's headers would otherwise hold the stop until its header timeout.

        Returns:
            Whether the server stopped within `timeout`.
        """
        task, self._task = self._task, None
        if task is None:
            return True
        if not task.done():
            self._server.stop()  # type: ignore[no-untyped-call]
        _, pending = await asyncio.wait((task,), timeout=timeout)
        if pending:
            task.cancel()
            await asyncio.wait((task,))
        if not task.cancelled():
            task.exception()  # retrieved: a server that failed while stopping has stopped
        return not pending
