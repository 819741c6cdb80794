"""The ids of the current span, as OpenTelemetry formats them, for log lines."""

from __future__ import annotations

from opentelemetry import trace

from backstage_backend_defaults.telemetry._server_span import ServerSpan

__all__ = ["trace_fields"]

_get_current_span = trace.get_current_span


def trace_fields() -> dict[str, str] | None:
    """`trace_id` (32 hex digits) and `span_id` (16) of the current span; None without one.

    A request's own span formats its ids once, however many lines its request logs."""
    span = _get_current_span()
    if type(span) is ServerSpan:
        return span.log_fields
    context = span.get_span_context()
    if not context.is_valid:
        return None
    return {
        "trace_id": trace.format_trace_id(context.trace_id),
        "span_id": trace.format_span_id(context.span_id),
    }
