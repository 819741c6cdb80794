"""The ids of the current span, as OpenTelemetry formats them, for log lines."""

from __future__ import annotations

from opentelemetry import trace

__all__ = ["trace_fields"]

_get_current_span = trace.get_current_span


def trace_fields() -> dict[str, str] | None:
    """`trace_id` (32 hex digits) and `span_id` (16) of the current span; None without one."""
    context = _get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return {
        "trace_id": trace.format_trace_id(context.trace_id),
        "span_id": trace.format_span_id(context.span_id),
    }
