"""The backend's outermost ASGI layer: the canonical path, the index plugin, request log,
plugin gates, in-flight tracking, `HEAD` as `GET`, the request body deadline, response
compression around the app, and the request's telemetry when it is on.

It runs on every request, so it is written for speed: no per-request objects beyond the
status recorder and the body deadline, no awaits on the common path of a started plugin.
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

from backstage_backend_defaults.http_router._compression import CompressionOptions, GzipResponses
from backstage_backend_defaults.http_router._errors import ErrorRenderer
from backstage_backend_defaults.http_router._gate import PluginGate
from backstage_backend_defaults.http_router._hooks import RequestHooks, StartedRequest
from backstage_backend_defaults.http_router._paths import canonical_path, encode_path, plugin_of
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


class _BodyDeadline:
    """`receive` with a deadline for the request body, so that a body that never finishes
    (or a short `Content-Length`) cannot hold a connection and a handler for free."""

    __slots__ = ("deadline", "done", "receive")

    def __init__(self, receive: Receive, deadline: float) -> None:
        self.receive = receive
        self.deadline = deadline
        self.done = False

    async def __call__(self) -> ReceiveMessage:
        if self.done:  # waiting for the disconnect after the body: no deadline
            return await self.receive()
        try:
            async with asyncio.timeout_at(self.deadline):
                message: Any = await self.receive()
        except TimeoutError:
            self.done = True
            raise RequestTimeoutError("The request body was not received in time") from None
        if message["type"] != "http.request" or not message.get("more_body", False):
            self.done = True
        return message  # type: ignore[no-any-return]


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


class _StatusRecorder:
    """Passes messages on and remembers the response status for the request log.

    It returns the server's own awaitable instead of wrapping it in a coroutine: this sits
    on every response message.
    """

    __slots__ = ("send", "started", "status")

    def __init__(self, send: Send) -> None:
        self.send = send
        self.status = 500
        self.started = False

    def __call__(self, message: Message) -> Awaitable[None]:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.started = True
        return self.send(message)


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
        path = self._canonicalise(scope)
        plugin_id = None if path is None else plugin_of(path)
        if plugin_id is None and path is not None and self._index_prefix is not None:
            path = self._to_index(scope, path, self._index_prefix)
            plugin_id = plugin_of(path)
        gate: PluginGate | None = None
        if plugin_id is not None:
            gate = self._gates.get(plugin_id)
            if gate is None and not self._backend_started.is_set():
                gate = await self._await_gate(plugin_id)
        recorder = _StatusRecorder(send)
        telemetry = self._telemetry
        started_request = telemetry.start(scope, plugin_id) if telemetry is not None else _UNTRACED
        self._in_flight += 1
        task = asyncio.current_task()
        assert task is not None  # an ASGI call runs in a task of its own
        self._serving.add(task)
        try:
            if path is None:
                invalid = InputError("Invalid request path: '.' and '..' segments are not allowed")
                await self._send_error(invalid, scope, recorder)
            elif gate is None or await self._passes(gate, scope, path, recorder):
                await self._serve(scope, path, receive, recorder)
        except asyncio.CancelledError as error:
            if not await self._answer_abandoned(task, scope, recorder):
                _record_escaped(started_request, error)
                raise
        except BaseException as error:
            _record_escaped(started_request, error)
            raise
        finally:
            self._in_flight -= 1
            self._serving.discard(task)
            if self._drained is not None and self._in_flight == 0 and not self._drained.done():
                self._drained.set_result(None)
            elapsed = _perf_counter() - started
            span = started_request[0]
            self._request_log.write(
                method,
                requested,
                recorder.status,
                round(elapsed * 1000, 3),
                scope.get("http_version", "1.1"),
                plugin_id if gate is not None else None,
                span.log_json if span is not None else b"",
            )
            if telemetry is not None:
                telemetry.end(started_request, scope, recorder.status, elapsed, plugin_id)

    async def _answer_abandoned(
        self, task: asyncio.Task[Any], scope: Any, recorder: _StatusRecorder
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
        """The plugin's gate: started, not stopping, and its auth policy. Sends the error
        and returns False when the request may not pass."""
        try:
            if not gate.open and gate.holds(path):
                await gate.admit()
            if gate.guarded and not (self._cors and _is_preflight(scope)):
                check = gate.check_fast(scope, path)
                if check is not True:
                    await gate.authorize(scope, path)
        except Exception as error:
            # Keep-alive clients of a stopping backend reconnect, to another replica.
            await self._send_error(error, scope, send, close=gate.stopping)
            return False
        return True

    async def _serve(self, scope: Any, path: str, receive: Receive, send: Send) -> None:
        deadline = asyncio.get_running_loop().time() + self._request_timeout
        body_receive = _BodyDeadline(receive, deadline)
        if scope["method"] == "HEAD" and not self._routes_head(path):
            scope["method"] = "GET"
            try:
                await self._served(scope, body_receive, _HeadAsGet(send))
            finally:
                scope["method"] = "HEAD"
            return
        await self._served(scope, body_receive, send)

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
