"""The backend's outermost ASGI layer: request log, plugin gates, in-flight tracking,
response compression around the app, and the request's telemetry when it is on.

It runs on every request, so it is written for speed: no per-request objects beyond the
status recorder, no awaits on the common path of a started plugin.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

import msgspec
from backstage_backend_plugin_api import LoggerService
from litestar import Litestar
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from backstage_backend_defaults.http_router._compression import CompressionOptions, GzipResponses
from backstage_backend_defaults.http_router._errors import ErrorRenderer
from backstage_backend_defaults.http_router._gate import PluginGate
from backstage_backend_defaults.http_router._request_log import RequestLog

if TYPE_CHECKING:  # OpenTelemetry loads only when telemetry is on
    from backstage_backend_defaults.telemetry._http import RequestTelemetry, StartedRequest

__all__ = ["BackendAsgiApp"]

_encode = msgspec.json.encode
_perf_counter = time.perf_counter


def _is_preflight(scope: Any) -> bool:
    return scope["method"] == "OPTIONS" and any(
        name == b"access-control-request-method" for name, _ in scope["headers"]
    )


class _StatusRecorder:
    """Passes messages on and remembers the response status for the request log.

    It returns the server's own awaitable instead of wrapping it in a coroutine: this sits
    on every response message.
    """

    __slots__ = ("send", "status")

    def __init__(self, send: Send) -> None:
        self.send = send
        self.status = 500

    def __call__(self, message: Message) -> Awaitable[None]:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        return self.send(message)


_UNTRACED: tuple[None, None] = (None, None)


def _record_escaped(started: StartedRequest, error: BaseException) -> None:
    """An exception escaping the app, as an event of the request's span if it has one."""
    span = started[0]
    if span is not None:
        span.record_exception(error)


class BackendAsgiApp:
    """Wraps the Litestar app: every request is logged, and plugin routes pass their gate.

    With `telemetry`, each request is also traced (its span current while it runs and while
    its log line is written) and measured.
    """

    def __init__(
        self,
        app: Litestar,
        logger: LoggerService,
        errors: ErrorRenderer,
        telemetry: RequestTelemetry | None = None,
        compression: CompressionOptions | None = None,
    ) -> None:
        self.app = app
        self._telemetry = telemetry
        self._served: ASGIApp = app
        if compression is not None and compression.enabled:
            self._served = GzipResponses(app, compression)
        self._request_log = RequestLog(logger)
        self._errors = errors
        self._gates: dict[str, PluginGate] = {}
        self._gate_added: dict[str, asyncio.Event] = {}
        self._backend_started = asyncio.Event()
        self._startup_wait = 5.0
        self._in_flight = 0
        self._drained: asyncio.Future[None] | None = None

    def add_gate(self, gate: PluginGate) -> None:
        self._gates[gate.plugin_id] = gate
        self._gate_added.setdefault(gate.plugin_id, asyncio.Event()).set()
        self._startup_wait = gate.startup_timeout

    def gate(self, plugin_id: str) -> PluginGate | None:
        return self._gates.get(plugin_id)

    @property
    def request_log(self) -> RequestLog:
        return self._request_log

    def mark_backend_started(self) -> None:
        """After this, a path under `/api/` with no gate is simply not a plugin's."""
        self._backend_started.set()
        self._gate_added.clear()

    def stop_admitting(self) -> None:
        for gate in self._gates.values():
            gate.mark_stopping()

    async def drain(self, timeout: float) -> int:
        """Wait until no request is in flight; returns how many were still running."""
        if self._in_flight == 0:
            return 0
        self._drained = asyncio.get_running_loop().create_future()
        try:
            await asyncio.wait_for(asyncio.shield(self._drained), timeout)
        except TimeoutError:
            return self._in_flight
        return 0

    async def _await_gate(self, plugin_id: str) -> PluginGate | None:
        """While the backend starts, a plugin's gate may not exist yet: wait for it."""
        added = self._gate_added.setdefault(plugin_id, asyncio.Event())
        waiters = [
            asyncio.ensure_future(added.wait()),
            asyncio.ensure_future(self._backend_started.wait()),
        ]
        try:
            await asyncio.wait(
                waiters, timeout=self._startup_wait, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for waiter in waiters:
                waiter.cancel()
        return self._gates.get(plugin_id)

    async def __call__(self, asgi_scope: Scope, receive: Receive, send: Send) -> None:
        scope: Any = asgi_scope
        if scope["type"] != "http":
            await self._served(scope, receive, send)
            return
        started = _perf_counter()
        path: str = scope["path"]
        plugin_id: str | None = None
        gate: PluginGate | None = None
        if path.startswith("/api/"):
            end = path.find("/", 5)
            plugin_id = path[5:] if end == -1 else path[5:end]
            gate = self._gates.get(plugin_id)
            if gate is None and not self._backend_started.is_set():
                gate = await self._await_gate(plugin_id)
        recorder = _StatusRecorder(send)
        telemetry = self._telemetry
        started_request = telemetry.start(scope, plugin_id) if telemetry is not None else _UNTRACED
        self._in_flight += 1
        try:
            if gate is not None:
                try:
                    if not gate.open and gate.holds(path):
                        await gate.admit()
                    if gate.guarded and not _is_preflight(scope):
                        check = gate.check_fast(scope, path)
                        if check is not True:
                            await gate.authorize(scope, path)
                except Exception as error:
                    await self._send_error(error, scope, recorder)
                    return
            await self._served(scope, receive, recorder)
        except BaseException as error:
            _record_escaped(started_request, error)
            raise
        finally:
            self._in_flight -= 1
            if self._drained is not None and self._in_flight == 0 and not self._drained.done():
                self._drained.set_result(None)
            elapsed = _perf_counter() - started
            span = started_request[0]
            self._request_log.write(
                scope["method"],
                path,
                recorder.status,
                round(elapsed * 1000, 3),
                scope.get("http_version", "1.1"),
                plugin_id if gate is not None else None,
                span.log_json if span is not None else b"",
            )
            if telemetry is not None:
                telemetry.end(started_request, scope, recorder.status, elapsed, plugin_id)

    async def _send_error(self, error: Exception, scope: Any, send: Send) -> None:
        query = scope.get("query_string", b"")
        url = scope["path"] + (f"?{query.decode('latin-1')}" if query else "")
        status, body = self._errors.body(error, scope["method"], url)
        payload = _encode(body)
        headers: list[tuple[bytes, bytes]] = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
        ]
        if status == 401:
            headers.append((b"www-authenticate", b"Bearer"))
        start: Any = {"type": "http.response.start", "status": status, "headers": headers}
        await send(start)
        body_event: Any = {"type": "http.response.body", "body": payload}
        await send(body_event)
