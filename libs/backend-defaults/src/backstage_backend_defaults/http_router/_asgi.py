"""The backend's outermost ASGI layer: request log, plugin gates, in-flight tracking."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import msgspec
from backstage_backend_plugin_api import LoggerService
from litestar import Litestar
from litestar.types import Message, Receive, Scope, Send

from backstage_backend_defaults.http_router._errors import ErrorRenderer
from backstage_backend_defaults.http_router._gate import PluginGate

__all__ = ["BackendAsgiApp"]

_encode = msgspec.json.encode


def _plugin_id(path: str) -> str | None:
    if not path.startswith("/api/"):
        return None
    end = path.find("/", 5)
    return path[5:] if end == -1 else path[5:end]


def _is_preflight(scope: Any) -> bool:
    if scope["method"] != "OPTIONS":
        return False
    return any(name == b"access-control-request-method" for name, _ in scope["headers"])


class BackendAsgiApp:
    """Wraps the Litestar app: every request is logged, and plugin routes pass their gate."""

    def __init__(self, app: Litestar, logger: LoggerService, errors: ErrorRenderer) -> None:
        self.app = app
        self._logger = logger
        self._errors = errors
        self._gates: dict[str, PluginGate] = {}
        self._gate_added: dict[str, asyncio.Event] = {}
        self._backend_started = asyncio.Event()
        self._startup_wait = 5.0
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def add_gate(self, gate: PluginGate) -> None:
        self._gates[gate.plugin_id] = gate
        self._gate_added.setdefault(gate.plugin_id, asyncio.Event()).set()
        self._startup_wait = gate.startup_timeout

    def mark_backend_started(self) -> None:
        """After this, a path under `/api/` with no gate is simply not a plugin's."""
        self._backend_started.set()
        self._gate_added.clear()

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

    def gate(self, plugin_id: str) -> PluginGate | None:
        return self._gates.get(plugin_id)

    def stop_admitting(self) -> None:
        for gate in self._gates.values():
            gate.mark_stopping()

    async def drain(self, timeout: float) -> int:
        """Wait until no request is in flight; returns how many were still running."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return self._in_flight
        return 0

    async def __call__(self, asgi_scope: Scope, receive: Receive, send: Send) -> None:
        scope: Any = asgi_scope
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        self._in_flight += 1
        self._idle.clear()

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        plugin_id = _plugin_id(scope["path"])
        try:
            gate = self._gates.get(plugin_id) if plugin_id else None
            if gate is None and plugin_id and not self._backend_started.is_set():
                gate = await self._await_gate(plugin_id)
            if gate is not None:
                try:
                    await gate.admit()
                    if not _is_preflight(scope):
                        await gate.authorize(scope)
                except Exception as error:
                    await self._send_error(error, scope, send_and_record)
                    return
            await self.app(scope, receive, send_and_record)
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()
            self._log(scope, status, started, plugin_id)

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

    def _log(self, scope: Any, status: int, started: float, plugin_id: str | None) -> None:
        duration_ms = round((time.perf_counter() - started) * 1000, 3)
        method = scope["method"]
        path = scope["path"]
        meta: dict[str, Any] = {
            "type": "incomingRequest",
            "method": method,
            "url": path,
            "status": status,
            "durationMs": duration_ms,
            "httpVersion": scope.get("http_version", "1.1"),
        }
        if plugin_id is not None and plugin_id in self._gates:
            meta["plugin"] = plugin_id
        self._logger.info(f'"{method} {path}" {status} {duration_ms}ms', meta)
