"""A server span and the request metrics for each incoming request.

This wraps the backend's ASGI app only when tracing or metrics are on, so with telemetry
off a request runs exactly the code it ran before. It is lighter than the generic ASGI
instrumentation (one span per request, no spans for each message sent or received) and
knows the backend's own attributes: the plugin the path belongs to and Litestar's route.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from typing import Any

from litestar.types import ASGIApp, Message, Receive, Scope, Send
from opentelemetry import context, propagate, trace
from opentelemetry.propagators.textmap import Getter
from opentelemetry.util.types import AttributeValue

from backstage_backend_defaults.telemetry._server_span import ServerSpan, ServerSpans
from backstage_backend_defaults.telemetry._telemetry import Telemetry

__all__ = ["RequestTelemetry"]

_perf_counter = time.perf_counter


def _plugin_id(path: str) -> str | None:
    if not path.startswith("/api/"):
        return None
    end = path.find("/", 5)
    return path[5:] if end == -1 else path[5:end]


_Headers = list[tuple[bytes, bytes]]


class _HeaderGetter(Getter[_Headers]):
    """Reads W3C trace context headers straight from the ASGI scope's header list."""

    def get(self, carrier: _Headers, key: str) -> list[str] | None:
        name = key.lower().encode()
        values = [value.decode("latin-1") for header, value in carrier if header == name]
        return values or None

    def keys(self, carrier: _Headers) -> list[str]:
        return [header.decode("latin-1") for header, _ in carrier]


_getter = _HeaderGetter()


class _Status:
    __slots__ = ("send", "status")

    def __init__(self, send: Send) -> None:
        self.send = send
        self.status = 500

    def __call__(self, message: Message) -> Awaitable[None]:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        return self.send(message)


class RequestTelemetry:
    """ASGI middleware: span `<METHOD> <route>` (kind server), request count and duration."""

    def __init__(self, app: ASGIApp, telemetry: Telemetry) -> None:
        self.app = app
        self._spans = telemetry.server_spans
        self._duration = None
        if telemetry.meter is not None:
            self._duration = telemetry.meter.create_histogram(
                "http.server.request.duration",
                unit="s",
                description="Duration of incoming HTTP requests, per plugin and route",
            )

    def _start_span(
        self, spans: ServerSpans, scope: Any, method: str, plugin_id: str | None
    ) -> ServerSpan:
        headers = scope["headers"]
        parent = None
        for name, _ in headers:
            if name == b"traceparent":  # extract only when a caller sent trace context
                parent = propagate.extract(headers, getter=_getter)
                break
        attributes: dict[str, AttributeValue] = {
            "http.request.method": method,
            "url.path": scope["path"],
        }
        if plugin_id is not None:
            attributes["backstage.plugin_id"] = plugin_id
        return spans.start(method, attributes, parent)

    async def __call__(self, asgi_scope: Scope, receive: Receive, send: Send) -> None:
        scope: Any = asgi_scope
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = _perf_counter()
        method: str = scope["method"]
        plugin_id = _plugin_id(scope["path"])
        recorder = _Status(send)
        span = None
        token = None
        if self._spans is not None:
            span = self._start_span(self._spans, scope, method, plugin_id)
            token = context.attach(trace.set_span_in_context(span))
        try:
            await self.app(scope, receive, recorder)
        except BaseException as error:
            if span is not None:
                span.record_exception(error)
            raise
        finally:
            route: str = scope.get("path_template") or ""
            status = recorder.status
            if span is not None:
                _end_span(span, method, route, status)
            if token is not None:
                context.detach(token)
            if self._duration is not None:
                self._duration.record(
                    _perf_counter() - started,
                    {
                        "http.request.method": method,
                        "http.route": route or "unmatched",
                        "http.response.status_code": status,
                        "backstage.plugin_id": plugin_id or "",
                    },
                )


def _end_span(span: ServerSpan, method: str, route: str, status: int) -> None:
    if route:
        attributes: dict[str, AttributeValue] = {
            "http.route": route,
            "http.response.status_code": status,
        }
        span.finish(f"{method} {route}", attributes, status >= 500)
    else:
        span.finish(method, {"http.response.status_code": status}, status >= 500)
