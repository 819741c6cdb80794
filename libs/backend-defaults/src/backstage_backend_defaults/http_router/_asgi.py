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
    with_vary,
)
from backstage_backend_defaults.http_router._errors import ErrorRenderer
from backstage_backend_defaults.http_router._gate import PluginGate
from backstage_backend_defaults.http_router._hooks import RequestHooks, RequestSpan, StartedRequest
from backstage_backend_defaults.http_router._paths import (
    canonical_path,
    encode_path,
    is_canonical,
    plugin_of,
)
from backstage_backend_defaults.http_router._request_log import RequestEntry, RequestLog
from backstage_backend_defaults.logger import DeferredLines

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

    __slots__ = (
        "_receive",
        "accept",
        "authorization",
        "body_done",
        "expires",
        "send",
        "started",
        "status",
        "vary",
    )

    def __init__(
        self, send: Send, receive: Receive, expires: float, headers: list[tuple[bytes, bytes]]
    ) -> None:
        # What the request path reads of the request's headers, in one pass: the first
        # `Authorization` and the `Accept-Encoding` values (joined).
        authorization = accept = None
        for name, value in headers:
            if name == b"authorization":
                if authorization is None:
                    authorization = value
            elif name == b"accept-encoding":
                accept = value if accept is None else accept + b", " + value
        self.authorization: bytes | None = authorization
        self.accept: bytes | None = accept
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

    def respond(self, message: Message) -> Awaitable[None]:
        """The app's `send` (a bound method: Python calls it faster than the object)."""
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.started = True
            if self.vary:
                message = with_vary(message)  # type: ignore[arg-type,assignment]
        return self.send(message)

    __call__ = respond

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
_FIRST_OR_FULL = (1, DeferredLines.LIMIT)
"""Entries waiting after which the batch starts (its timer), or is written at once."""


def _nothing() -> None:
    return None


def _record_escaped(started: StartedRequest, error: BaseException) -> None:
    """An exception escaping the app, as an event of the request's span if it has one."""
    span = started[0]
    if span is not None:
        span.record_exception(error)


_CANONICAL_PATHS_KEPT = 1024
_CANONICAL_PATH_KEPT = 256
"""Longest path kept among the canonical paths seen, which bounds what they hold."""
_AWAIT_DEPTH = 64
"""How deep in a task's chain of awaited coroutines a request's own call is looked for."""


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
        self._gzipped: ASGIApp = app
        if compression is not None and compression.enabled:
            self._gzip = GzipResponses(app, compression)
            self._served = self._gzip
            self._gzipped = self._gzip.gzipped
        self._request_log = RequestLog(logger)
        # Where a request's log line waits to be formatted with its batch; a path longer
        # than `_log_path_max` (-1: none waits) takes `RequestLog.write`.
        deferred = self._request_log.deferred
        self._log_entries: list[RequestEntry] = [] if deferred is None else deferred.entries
        self._log_added = _nothing if deferred is None else deferred.added
        self._log_path_max = -1 if deferred is None else self._request_log.deferred_path_max
        self._errors = errors
        self._canonical_paths: dict[str, tuple[str, str]] = {}
        """Canonical plugin paths requested (outside a root path): the path and its plugin."""
        self._gates: dict[str | None, PluginGate] = {}  # None: a path that is no plugin's
        self._gate_added: dict[str, asyncio.Event] = {}
        self._backend_started = asyncio.Event()
        self._startup_wait = 5.0
        self._in_flight = 0
        self._drained: asyncio.Future[None] | None = None
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

    async def drain(self, timeout: float) -> list[str]:
        """Wait until no request is in flight; returns the requests still running then
        (`METHOD /path` each), which are cancelled.

        Requests still running after `timeout` are cancelled: shutdown must end in time
        whatever they wait for (a database that does not answer, say), and the server
        would otherwise wait for them when it stops.
        """
        if self._in_flight == 0:
            return []
        self._drained = asyncio.get_running_loop().create_future()
        try:
            async with asyncio.timeout(timeout):
                await asyncio.shield(self._drained)
        except TimeoutError:
            running = self._in_flight
            serving = self._serving_tasks()
            abandoned = [task for task, _ in serving]
            self._abandoned.update(abandoned)
            for task in abandoned:
                task.cancel()
            if abandoned:
                await asyncio.wait(abandoned, timeout=_CANCELLED_REQUEST_GRACE_SECONDS)
            return [what for _, what in serving] + ["a request"] * (running - len(serving))
        return []

    def _serving_tasks(self) -> list[tuple[asyncio.Task[Any], str]]:
        """The tasks running a request of this app now, and their requests, found by what
        they await: the end of the drain looks for them, so that no request pays for
        registering its task."""
        serving: list[tuple[asyncio.Task[Any], str]] = []
        for task in asyncio.all_tasks():
            awaited: Any = task.get_coro()
            for _ in range(_AWAIT_DEPTH):
                if getattr(awaited, "cr_code", None) is _CALL_CODE:
                    frame = awaited.cr_frame
                    if frame is not None and frame.f_locals.get("self") is self:
                        scope = frame.f_locals.get("scope") or {}
                        serving.append((task, f"{scope.get('method')} {scope.get('path')}"))
                        break
                awaited = getattr(awaited, "cr_await", None) or getattr(
                    awaited, "gi_yieldfrom", None
                )
                if awaited is None:
                    break
        return serving

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
        known = self._canonical_paths.get(requested)
        if known is not None and not scope.get("root_path"):
            # A canonical plugin path seen before, the common case. The kept strings stand
            # in for the request's: their hashes are known to the dicts that take them.
            path, plugin_id = known
            requested = path
        else:
            path, plugin_id = self._new_route(scope, requested)
        gate = self._gates.get(plugin_id)
        if gate is None and plugin_id is not None and not self._backend_started.is_set():
            gate = await self._await_gate(plugin_id)
        exchange = _Exchange(send, receive, started + self._request_timeout, scope["headers"])
        telemetry = self._telemetry
        started_request = telemetry.start(scope, plugin_id) if telemetry is not None else _UNTRACED
        self._in_flight += 1
        try:
            if (
                path is not None
                and (
                    gate is None
                    or (
                        gate.open
                        and (
                            exchange.authorization in gate.static_passes or gate.passes(scope, path)
                        )
                    )
                )
                and method != "HEAD"
            ):
                # The app, through gzip when the client takes it; otherwise `exchange` adds
                # compression's `Vary` header itself (no call of its own: every request).
                gzip = self._gzip
                accept = exchange.accept
                gzipped = accept is not None and gzip is not None and gzip.accepts_gzip(accept)
                exchange.vary = gzip is not None and not gzipped
                target = self._gzipped if gzipped else self.app
                await target(scope, exchange.receive, exchange.respond)
            else:
                await self._serve_other(scope, path, gate, exchange)
        except asyncio.CancelledError as error:
            await self._cancelled(error, scope, exchange, started_request)
        except BaseException as error:
            _record_escaped(started_request, error)
            raise
        finally:
            self._in_flight -= 1
            if self._drained is not None:
                self._wake_drain()
            ended = _perf_counter()
            span = started_request[0]
            if len(requested) <= self._log_path_max:
                entries = self._log_entries
                # The line is formatted with its batch, when the batch is written.
                entries.append(
                    (
                        (
                            method,
                            requested,
                            exchange.status,
                            scope.get("http_version", "1.1"),
                            plugin_id if gate is not None else None,
                        ),
                        started,
                        ended,
                        span.log_json if span is not None else b"",
                    )
                )
                if len(entries) in _FIRST_OR_FULL:
                    self._log_added()
            elif self._request_log.enabled:
                self._write_line(
                    method,
                    requested,
                    scope,
                    exchange.status,
                    ended - started,
                    plugin_id,
                    gate,
                    span,
                )
            if telemetry is not None:
                telemetry.end(started_request, scope, exchange.status, ended - started, plugin_id)

    async def _serve_other(
        self, scope: Any, path: str | None, gate: PluginGate | None, exchange: _Exchange
    ) -> None:
        """A request off the common path: a refused path, one its gate did not let through
        at once, or a `HEAD`."""
        if path is None:
            invalid = InputError("Invalid request path: '.' and '..' segments are not allowed")
            await self._send_error(invalid, scope, exchange)
        elif gate is not None and not (gate.open and gate.passes(scope, path)):
            await self._serve_gated(gate, scope, path, exchange)
        else:
            await self._serve(scope, path, exchange)

    async def _cancelled(
        self,
        error: asyncio.CancelledError,
        scope: Any,
        exchange: _Exchange,
        started_request: StartedRequest,
    ) -> None:
        """A cancelled request: answered when the end of the drain cancelled it, otherwise
        the cancellation goes on."""
        if not await self._answer_abandoned(scope, exchange):
            _record_escaped(started_request, error)
            raise error

    def _write_line(
        self,
        method: str,
        requested: str,
        scope: Any,
        status: int,
        elapsed: float,
        plugin_id: str | None,
        gate: PluginGate | None,
        span: RequestSpan | None,
    ) -> None:
        """The request's log line, written now (a line that does not wait for its batch)."""
        self._request_log.write(
            method,
            requested,
            status,
            int(elapsed * 1e6 + 0.5),
            scope.get("http_version", "1.1"),
            plugin_id if gate is not None else None,
            span.log_json if span is not None else b"",
        )

    def _wake_drain(self) -> None:
        """A request ended while the shutdown drain waits: wake it when it was the last."""
        if self._drained is not None and self._in_flight == 0 and not self._drained.done():
            self._drained.set_result(None)

    async def _answer_abandoned(self, scope: Any, recorder: _Exchange) -> bool:
        """Whether the cancelled request is one the end of the shutdown drain cancelled and
        it has been answered: 503, and `Connection: close` so that the client takes its
        next request elsewhere."""
        task = asyncio.current_task()
        if task is None or task not in self._abandoned or recorder.started:
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

    def _new_route(self, scope: Any, requested: str) -> tuple[str | None, str | None]:
        """`_route`'s answer for a path not among the canonical plugin paths seen; a
        canonical plugin path (recognised with string tests, `is_canonical` and `plugin_of`
        inline) is kept for the next request to it."""
        if (
            requested[:5] == "/api/"
            and "//" not in requested
            and "/." not in requested
            and requested[-1] != "/"
            and not scope.get("root_path")
        ):
            end = requested.find("/", 5)
            plugin_id = requested[5:] if end == -1 else requested[5:end]  # never empty here
            known = self._canonical_paths
            if len(requested) <= _CANONICAL_PATH_KEPT:
                if len(known) >= _CANONICAL_PATHS_KEPT:
                    known.clear()
                known[requested] = (requested, plugin_id)
            return requested, plugin_id
        return self._route(scope, requested)

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


_CALL_CODE = BackendAsgiApp.__call__.__code__
"""The code of a request's call, which `_serving_tasks` recognises in a task's awaits."""
