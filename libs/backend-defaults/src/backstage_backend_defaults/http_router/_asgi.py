"""The backend's outermost ASGI layer: the canonical path, the index plugin, request log,
plugin gates, in-flight tracking, `HEAD` as `GET`, the request body deadline, response
compression around the app, and the request's telemetry when it is on.

It runs on every request, so it is written for speed: one per-request object (the status
recorder with the body deadline), no awaits and no coroutines of its own on the common path of
a started plugin, whose gate decides in one call.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Awaitable
from typing import Any

import msgspec
from backstage_backend_plugin_api import LoggerService
from backstage_common.errors import InputError, ServiceUnavailableError
from litestar import Litestar
from litestar.exceptions import NotFoundException
from litestar.types import ASGIApp, Message, Receive, ReceiveMessage, Scope, Send

from backstage_backend_defaults.http_router._compression import (
    CompressionOptions,
    GzipResponses,
    vary_on_encoding,
)
from backstage_backend_defaults.http_router._errors import ErrorRenderer
from backstage_backend_defaults.http_router._gate import PluginGate
from backstage_backend_defaults.http_router._hooks import RequestHooks, StartedRequest
from backstage_backend_defaults.http_router._paths import (
    canonical_path,
    encode_path,
    is_canonical,
    plugin_of,
)
from backstage_backend_defaults.http_router._request_log import RequestLog

__all__ = ["BackendAsgiApp", "RequestTimeoutError"]

_encode = msgspec.json.encode
_perf_counter = time.perf_counter
_DEFAULT_REQUEST_TIMEOUT = 60.0
_CANCELLED_REQUEST_GRACE_SECONDS = 1.0
"""How long requests cancelled at the end of the shutdown drain may take to unwind."""


class RequestTimeoutError(Exception):
    """The client did not send the whole request body within `backend.server.requestTimeout`."""

    status_code = 408


def _is_preflight(scope: Any) -> bool:
    """A CORS preflight, which Litestar's CORS middleware answers itself (it needs an
    `Origin`); anything else, `OPTIONS` included, passes the auth policy."""
    if scope["method"] != "OPTIONS":
        return False
    names = {name for name, _ in scope["headers"]}
    return b"origin" in names and b"access-control-request-method" in names


class _HeadAsGet:
    """Sends a `GET` response without its body: same status and headers, as Express answers
    `HEAD` for Backstage."""

    __slots__ = ("send",)

    def __init__(self, send: Send) -> None:
        self.send = send

    def __call__(self, message: Message) -> Awaitable[None]:
        if message["type"] == "http.response.body" and message.get("body"):
            empty: Any = {
                "type": "http.response.body",
                "body": b"",
                "more_body": message.get("more_body", False),
            }
            return self.send(empty)
        return self.send(message)


class _Exchange:
    """One request's `send` and `receive` as the app sees them: `send` passes messages on and
    remembers the response status for the request log; `receive` waits for the request body
    until a deadline, so that a body that never finishes (or a short `Content-Length`) cannot
    hold a connection and a handler for free.

    One object for both, and `send` hands back the server's own awaitable instead of wrapping
    it in a coroutine: this sits on every request and every response message.
    """

    __slots__ = ("_receive", "body_done", "expires", "send", "started", "status", "vary")

    def __init__(self, send: Send, receive: Receive, expires: float) -> None:
        self.send = send
        self._receive = receive
        self.expires = expires
        """When the body must have arrived, on the `perf_counter` clock."""
        self.status = 500
        self.started = False
        self.body_done = False
        self.vary = False
        """Set when compression is on and the client does not take gzip: the response gets
        compression's `Vary` header here instead of through a layer of its own."""

    def __call__(self, message: Message) -> Awaitable[None]:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.started = True
            if self.vary:
                message = vary_on_encoding(message)[0]  # type: ignore[arg-type,assignment]
        return self.send(message)

    async def receive(self) -> ReceiveMessage:
        if self.body_done:  # waiting for the disconnect after the body: no deadline
            return await self._receive()
        try:
            # The loop's clock, not `perf_counter`'s, decides: convert what is left.
            async with asyncio.timeout(self.expires - _perf_counter()):
                message: Any = await self._receive()
        except TimeoutError:
            self.body_done = True
            raise RequestTimeoutError("The request body was not received in time") from None
        if message["type"] != "http.request" or not message.get("more_body", False):
            self.body_done = True
        return message  # type: ignore[no-any-return]


_UNTRACED: tuple[None, None] = (None, None)


def _record_escaped(started: StartedRequest, error: BaseException) -> None:
    """An exception escaping the app, as an event of the request's span if it has one."""
    span = started[0]
    if span is not None:
        span.record_exception(error)


class BackendAsgiApp:
    """Wraps the Litestar app: every request is logged, and plugin routes pass their gate.

    With `index_plugin`, a request outside `/api` and `/.backstage` that no root-mounted
    route answers goes to that plugin's routes (`/catalog/x` is served as
    `/api/app/catalog/x`, through the plugin's gate), as Backstage's root router forwards
    such requests to its index path (`/api/app`): that is how the app plugin serves the
    frontend at `/`.

    With `telemetry` (the hooks registered on `REQUEST_HOOKS`), each request is also traced
    (its span current while it runs and while its log line is written) and measured.
    """

    def __init__(
        self,
        app: Litestar,
        logger: LoggerService,
        errors: ErrorRenderer,
        telemetry: RequestHooks | None = None,
        compression: CompressionOptions | None = None,
        request_timeout: float = _DEFAULT_REQUEST_TIMEOUT,
        index_plugin: str | None = None,
    ) -> None:
        self.app = app
        self._index_prefix = None if index_plugin is None else f"/api/{index_plugin}"
        self._request_timeout = request_timeout
        self._cors = app.cors_config is not None
        self._telemetry = telemetry
        self._served: ASGIApp = app
        self._gzip: GzipResponses | None = None
        if compression is not None and compression.enabled:
            self._gzip = GzipResponses(app, compression)
            self._served = self._gzip
        self._request_log = RequestLog(logger)
        self._errors = errors
        self._gates: dict[str | None, PluginGate] = {}  # None: a path that is no plugin's
        self._gate_added: dict[str, asyncio.Event] = {}
        self._backend_started = asyncio.Event()
        self._startup_wait = 5.0
        self._in_flight = 0
        self._drained: asyncio.Future[None] | None = None
        self._serving: set[asyncio.Task[Any]] = set()
        self._abandoned: weakref.WeakSet[asyncio.Task[Any]] = weakref.WeakSet()

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
        """Wait until no request is in flight; returns how many were still running.

        Requests still running after `timeout` are cancelled: shutdown must end in time
        whatever they wait for (a database that does not answer, say), and the server
        would otherwise wait for them when it stops.
        """
        if self._in_flight == 0:
            return 0
        self._drained = asyncio.get_running_loop().create_future()
        try:
            await asyncio.wait_for(asyncio.shield(self._drained), timeout)
        except TimeoutError:
            running = self._in_flight
            abandoned = list(self._serving)
            self._abandoned.update(abandoned)
            for task in abandoned:
                task.cancel()
            if abandoned:
                await asyncio.wait(abandoned, timeout=_CANCELLED_REQUEST_GRACE_SECONDS)
            return running
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
        method: str = scope["method"]
        requested: str = scope["path"]  # as sent, for the request log
        path: str | None
        plugin_id: str | None
        if (
            requested[:5] == "/api/"
            and "//" not in requested
            and "/." not in requested
            and requested[-1] != "/"
            and not scope.get("root_path")
        ):
            # A canonical plugin path, the common case: `_route`'s answer without its calls
            # (`is_canonical` and `plugin_of` inline; the plugin id cannot be empty here).
            path = requested
            end = requested.find("/", 5)
            plugin_id = requested[5:] if end == -1 else requested[5:end]
        else:
            path, plugin_id = self._route(scope, requested)
        gate = self._gates.get(plugin_id)
        if gate is None and plugin_id is not None and not self._backend_started.is_set():
            gate = await self._await_gate(plugin_id)
        exchange = _Exchange(send, receive, started + self._request_timeout)
        telemetry = self._telemetry
        started_request = telemetry.start(scope, plugin_id) if telemetry is not None else _UNTRACED
        self._in_flight += 1
        task = asyncio.current_task()
        assert task is not None  # an ASGI call runs in a task of its own
        self._serving.add(task)
        try:
            if path is None:
                invalid = InputError("Invalid request path: '.' and '..' segments are not allowed")
                await self._send_error(invalid, scope, exchange)
            elif gate is not None and not (gate.open and gate.passes(scope, path)):
                await self._serve_gated(gate, scope, path, exchange)
            elif method == "HEAD":
                await self._serve(scope, path, exchange)
            else:
                # The app, through gzip when the client takes it; otherwise `exchange` adds
                # compression's `Vary` header itself (no call of its own: every request).
                gzip = self._gzip
                target = self.app if gzip is None or not gzip.takes_gzip(scope) else gzip.gzipped
                exchange.vary = gzip is not None and target is self.app
                await target(scope, exchange.receive, exchange)
        except asyncio.CancelledError as error:
            if not await self._answer_abandoned(task, scope, exchange):
                _record_escaped(started_request, error)
                raise
        except BaseException as error:
            _record_escaped(started_request, error)
            raise
        finally:
            self._in_flight -= 1
            self._serving.discard(task)
            if self._drained is not None:
                self._wake_drain()
            elapsed = _perf_counter() - started
            span = started_request[0]
            self._request_log.write(
                method,
                requested,
                exchange.status,
                int(elapsed * 1e6 + 0.5),
                scope.get("http_version", "1.1"),
                plugin_id if gate is not None else None,
                span.log_json if span is not None else b"",
            )
            if telemetry is not None:
                telemetry.end(started_request, scope, exchange.status, elapsed, plugin_id)

    def _wake_drain(self) -> None:
        """A request ended while the shutdown drain waits: wake it when it was the last."""
        if self._drained is not None and self._in_flight == 0 and not self._drained.done():
            self._drained.set_result(None)

    async def _answer_abandoned(
        self, task: asyncio.Task[Any], scope: Any, recorder: _Exchange
    ) -> bool:
        """Whether the cancelled request is one the end of the shutdown drain cancelled and
        it has been answered: 503, and `Connection: close` so that the client takes its
        next request elsewhere."""
        if task not in self._abandoned or recorder.started:
            return False
        task.uncancel()
        shutting_down = ServiceUnavailableError("Service is shutting down")
        await self._send_error(shutting_down, scope, recorder, close=True)
        return True

    async def _passes(self, gate: PluginGate, scope: Any, path: str, send: Send) -> bool:
        """The plugin's gate when `gate.passes` did not let the request through at once:
        started, not stopping, and its auth policy. Sends the error and returns False when
        the request may not pass."""
        try:
            if not gate.open and gate.holds(path):
                await gate.admit()
            preflight = self._cors and _is_preflight(scope)
            if gate.guarded and not preflight and not gate.passes(scope, path):
                await gate.authorize(scope, path)
        except Exception as error:
            # Keep-alive clients of a stopping backend reconnect, to another replica.
            await self._send_error(error, scope, send, close=gate.stopping)
            return False
        return True

    async def _serve_gated(
        self, gate: PluginGate, scope: Any, path: str, exchange: _Exchange
    ) -> None:
        """Serves a request that `gate.passes` did not let through at once, if `_passes`."""
        if await self._passes(gate, scope, path, exchange):
            await self._serve(scope, path, exchange)

    async def _serve(self, scope: Any, path: str, exchange: _Exchange) -> None:
        # The body's time starts once the gate lets the request in (it may have waited for
        # the plugin to start).
        exchange.expires = _perf_counter() + self._request_timeout
        if scope["method"] == "HEAD" and not self._routes_head(path):
            scope["method"] = "GET"
            try:
                await self._served(scope, exchange.receive, _HeadAsGet(exchange))
            finally:
                scope["method"] = "HEAD"
            return
        await self._served(scope, exchange.receive, exchange)

    def _route(self, scope: Any, requested: str) -> tuple[str | None, str | None]:
        """The request's canonical path (None when it is refused) and the plugin it is for."""
        path = requested
        if not is_canonical(requested) or scope.get("root_path"):
            canonical = self._canonicalise(scope)
            if canonical is None:
                return None, None
            path = canonical
        plugin_id = plugin_of(path)
        if plugin_id is None and self._index_prefix is not None:
            path = self._to_index(scope, path, self._index_prefix)
            plugin_id = plugin_of(path)
        return path, plugin_id

    @staticmethod
    def _canonicalise(scope: Any) -> str | None:
        """Rewrites the scope's path to the one Litestar routes and returns it (without the
        root path); None when the path is refused."""
        raw: str = scope["path"]
        root_path: str = scope.get("root_path", "")
        if root_path and not raw.startswith(root_path):
            # Litestar would cut the path at the root path wherever it occurs.
            scope["root_path"] = root_path = ""
        path = canonical_path(raw[len(root_path) :])
        if path is None:
            return None
        full = root_path + path
        if full != raw:
            scope["path"] = full
            scope["raw_path"] = encode_path(full)
        return path

    def _to_index(self, scope: Any, path: str, prefix: str) -> str:
        """The path under the index plugin's mount for a request no other part of the
        backend answers; the path itself otherwise."""
        if path == "/api" or path.startswith(("/api/", "/.backstage/")) or path == "/.backstage":
            return path
        try:
            self.app.asgi_router.handle_routing(path=path, method=scope["method"])
        except NotFoundException:
            pass
        except Exception:  # routed, though not for this method: the root route's answer
            return path
        else:
            return path
        indexed = prefix if path == "/" else prefix + path
        full = scope.get("root_path", "") + indexed
        scope["path"] = full
        scope["raw_path"] = encode_path(full)
        return indexed

    def _routes_head(self, path: str) -> bool:
        """Whether a handler answers `HEAD` itself; otherwise `HEAD` is served as `GET`."""
        try:
            self.app.asgi_router.handle_routing(path=path, method="HEAD")
        except Exception:
            return False
        return True

    async def _send_error(
        self, error: Exception, scope: Any, send: Send, *, close: bool = False
    ) -> None:
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
        if close:
            headers.append((b"connection", b"close"))
        start: Any = {"type": "http.response.start", "status": status, "headers": headers}
        await send(start)
        body_event: Any = {"type": "http.response.body", "body": payload}
        await send(body_event)
