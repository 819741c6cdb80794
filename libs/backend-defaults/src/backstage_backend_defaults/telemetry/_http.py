"""A server span and the request metrics for each incoming request.

The backend's ASGI layer (`BackendAsgiApp`) calls this at the start and the end of each
request, only when tracing or metrics are on: with telemetry off a request pays one
attribute check. It is lighter than the generic ASGI instrumentation (one span per
request, no spans for each message sent or received, no ASGI layer of its own) and knows
the backend's own attributes: the plugin the path belongs to and Litestar's route.
"""

from __future__ import annotations

import logging
from contextvars import Token
from typing import Any

from opentelemetry import context, propagate, trace
from opentelemetry.metrics import Meter
from opentelemetry.propagators.textmap import Getter, TextMapPropagator
from opentelemetry.util.types import AttributeValue

from backstage_backend_defaults.http_router import StartedRequest as RouterStartedRequest
from backstage_backend_defaults.telemetry._server_span import (
    ServerSpan,
    ServerSpans,
    current_context_var,
)

__all__ = ["RequestTelemetry", "StartedRequest"]

_logger = logging.getLogger(__name__)
_Headers = list[tuple[bytes, bytes]]
StartedRequest = tuple[ServerSpan | None, Token[context.Context] | None]
"""A request's span (None when tracing is off) and the context token to detach at its end."""
_UNTRACED: StartedRequest = (None, None)
_EMPTY = context.Context()
# the key of the current span in a context: the only key of a context holding just a span
[_SPAN_KEY] = trace.set_span_in_context(trace.INVALID_SPAN, _EMPTY)


class _HeaderGetter(Getter[_Headers]):
    """Reads W3C trace context headers straight from the ASGI scope's header list."""

    def get(self, carrier: _Headers, key: str) -> list[str] | None:
        name = key.lower().encode()
        values = [value.decode("latin-1") for header, value in carrier if header == name]
        return values or None

    def keys(self, carrier: _Headers) -> list[str]:
        return [header.decode("latin-1") for header, _ in carrier]


_getter = _HeaderGetter()


def _host_and_port(host: bytes) -> tuple[str, int | None]:
    """`Host` split as the HTTP conventions read it: `[::1]:7007` is `::1` and 7007."""
    text = host.decode("latin-1")
    if text.startswith("["):
        address, _, rest = text[1:].partition("]")
        port_text = rest.removeprefix(":")
    else:
        address, colon, port_text = text.rpartition(":")
        if not colon:
            return text, None
    return address, int(port_text) if port_text.isdigit() else None


_KNOWN_LIMIT = 256
"""How many distinct (host, user agent, scheme, version) attribute sets are kept; past it
the set is emptied, so varied headers cannot grow it."""


def _peer_attributes(
    scope: Any, host: bytes | None, user_agent: bytes | None
) -> dict[str, AttributeValue]:
    """The HTTP semantic conventions' attributes that stay the same across a client's
    requests: scheme, protocol version, server address and port, user agent."""
    attributes: dict[str, AttributeValue] = {
        "url.scheme": scope.get("scheme") or "http",
        "network.protocol.version": scope.get("http_version") or "1.1",
    }
    address: str | None
    port: int | None
    if host is not None:
        address, port = _host_and_port(host)
    else:  # no Host header (HTTP/1.0): the address the request came in on
        address, port = scope.get("server") or (None, None)
    if address:
        attributes["server.address"] = address
        if port is not None:
            attributes["server.port"] = port
    if user_agent is not None:
        attributes["user_agent.original"] = user_agent.decode("latin-1")
    return attributes


class RequestTelemetry:
    """The request hooks (`REQUEST_HOOKS`): span `<METHOD> <route>` (kind server) with the
    HTTP semantic conventions' attributes, request count and duration, per request.

    Trace context is read with `propagator` (`OTEL_PROPAGATORS`; the global propagator
    when None), only from a request carrying one of its headers.
    """

    __slots__ = ("_context_headers", "_current", "_duration", "_known", "_propagator", "_spans")

    def __init__(
        self,
        server_spans: ServerSpans | None,
        meter: Meter | None,
        propagator: TextMapPropagator | None = None,
    ) -> None:
        self._spans = server_spans
        self._current = current_context_var()
        self._propagator = propagator if propagator is not None else propagate.get_global_textmap()
        self._context_headers = frozenset(
            field.lower().encode("latin-1") for field in self._propagator.fields
        )
        # the attributes a client's requests share, parsed once (the request path is hot)
        self._known: dict[tuple[Any, ...], dict[str, AttributeValue]] = {}
        self._duration = None
        if meter is not None:
            self._duration = meter.create_histogram(
                "http.server.request.duration",
                unit="s",
                description="Duration of incoming HTTP requests, per plugin and route",
            )

    def start(self, scope: Any, plugin_id: str | None) -> StartedRequest:
        """Starts the request's span and makes it the current one (when tracing is on)."""
        spans = self._spans
        if spans is None:
            return _UNTRACED
        headers = scope["headers"]
        context_headers = self._context_headers
        carries_context = False
        host = user_agent = None
        for name, value in headers:
            if name == b"host":
                host = value
            elif name == b"user-agent":
                user_agent = value
            elif name in context_headers:
                carries_context = True
        # extracted only when a caller sent trace context
        parent = self._propagator.extract(headers, getter=_getter) if carries_context else None
        method: str = scope["method"]
        key = (
            host or scope.get("server"),
            user_agent,
            scope.get("scheme"),
            scope.get("http_version"),
        )
        known = self._known
        shared = known.get(key)
        if shared is None:
            if len(known) >= _KNOWN_LIMIT:
                known.clear()
            shared = known[key] = _peer_attributes(scope, host, user_agent)
        attributes: dict[str, AttributeValue] = {
            "http.request.method": method,
            "url.path": scope["path"],
            **shared,
        }
        client = scope.get("client")
        if client:
            attributes["client.address"] = client[0]
        if plugin_id is not None:
            attributes["backstage.plugin_id"] = plugin_id
        span = spans.start(method, attributes, parent)
        # as in OpenTelemetry's ASGI instrumentation: what the caller sent, and the span
        if parent is None:
            current = context.Context({_SPAN_KEY: span})
        else:
            current = trace.set_span_in_context(span, parent)
        variable = self._current
        return span, variable.set(current) if variable is not None else context.attach(current)

    def end(
        self,
        started: RouterStartedRequest,
        scope: Any,
        status: int,
        duration: float,
        plugin_id: str | None,
    ) -> None:
        """Ends the span (named after Litestar's route, once matched) and records the
        request's duration."""
        route: str = scope.get("path_template") or ""
        span: ServerSpan | None
        span, token = started  # type: ignore[assignment]  # the span `start` made
        if span is not None:
            span.end_request(scope["method"], route, status)
        if token is not None:
            variable = self._current
            if variable is None:
                context.detach(token)
            else:
                try:
                    variable.reset(token)
                except ValueError:  # as the API's detach: logged, never raised
                    _logger.exception("Failed to detach context")
        if self._duration is not None:
            self._duration.record(
                duration,
                {
                    "http.request.method": scope["method"],
                    "http.route": route or "unmatched",
                    "http.response.status_code": status,
                    "backstage.plugin_id": plugin_id or "",
                },
            )
