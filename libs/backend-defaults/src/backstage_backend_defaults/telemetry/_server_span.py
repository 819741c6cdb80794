"""The server span of each incoming request, without the SDK's per-span machinery.

The SDK's `Tracer.start_span` validates every attribute value, builds a bounded attribute
map, a lock, bounded event and link lists and a start notice for each span; a request's
span then pays again for a snapshot when it ends. For the one span every request gets, this
module keeps what OpenTelemetry defines and drops the rest:

- the provider's sampler decides, with the provider's id generator, so sampling
  (`parentbased_traceidratio`, a remote parent's sampled flag) works as for any span;
- the span is an `opentelemetry.trace.Span`, put in the context as usual, so the spans of
  the request's statements, cache calls and outgoing calls are its children;
- the backend's own attributes (strings and ints) go into a plain dict, unchecked; anything
  set through the `Span` API by other code is checked and bounded as the SDK does it;
- once ended, it becomes an SDK `ReadableSpan` (the provider's resource, the backend's
  instrumentation scope) handed to the provider's span processors, so every exporter sees
  it as it sees the SDK's own spans.

The span processors are called at the end only (`on_end`): the SDK's span processors and
exporters do nothing when a span starts. A span belongs to its request's task: it takes
no lock.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Mapping, Sequence
from time import time_ns
from typing import TYPE_CHECKING

from opentelemetry import trace
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.context import Context
from opentelemetry.sdk.trace import Event, ReadableSpan, SpanLimits, SpanProcessor
from opentelemetry.sdk.trace.sampling import Decision
from opentelemetry.sdk.util import BoundedList
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.semconv.attributes.exception_attributes import (
    EXCEPTION_ESCAPED,
    EXCEPTION_MESSAGE,
    EXCEPTION_STACKTRACE,
    EXCEPTION_TYPE,
)
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.util.types import AnyValue, Attributes, AttributeValue

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

__all__ = ["ServerSpan", "ServerSpans"]

_logger = logging.getLogger(__name__)
_UNSET = Status(StatusCode.UNSET)
_KIND = SpanKind.SERVER


class ServerSpans:
    """Starts request spans with a provider's sampler and ids; ends them into its processors."""

    __slots__ = (
        "_flags",
        "_id_generator",
        "_processors",
        "_sampler",
        "limits",
        "resource",
        "scope",
    )

    def __init__(
        self,
        provider: TracerProvider,
        processors: Sequence[SpanProcessor],
        instrumentation_name: str,
    ) -> None:
        self._sampler = provider.sampler
        self._id_generator = provider.id_generator
        self.resource = provider.resource
        self._processors = tuple(processors)
        self.limits = SpanLimits()  # as the provider's: from the OTEL_*_LIMIT variables
        self.scope = InstrumentationScope(instrumentation_name, "")
        random = TraceFlags.RANDOM_TRACE_ID
        # (sampled, random trace id) -> flags, built once
        self._flags = {
            (sampled, is_random): TraceFlags(
                (TraceFlags.SAMPLED if sampled else 0) | (random if is_random else 0)
            )
            for sampled in (False, True)
            for is_random in (False, True)
        }

    def start(
        self, name: str, attributes: dict[str, AttributeValue], parent: Context | None
    ) -> ServerSpan:
        """A started span; `parent` holds the caller's trace context, if it sent one."""
        parent_span = trace.get_current_span(parent).get_span_context()
        if parent_span.is_valid:
            trace_id = parent_span.trace_id
            is_random = parent_span.trace_flags.random_trace_id
            parent_context: SpanContext | None = parent_span
        else:
            trace_id = self._id_generator.generate_trace_id()
            is_random = self._id_generator.is_trace_id_random()
            parent_context = None
        result = self._sampler.should_sample(parent, trace_id, name, _KIND, attributes, ())
        context = SpanContext(
            trace_id,
            self._id_generator.generate_span_id(),
            False,
            self._flags[result.decision is Decision.RECORD_AND_SAMPLE, is_random],
            result.trace_state,
        )
        recording = result.decision is not Decision.DROP
        if recording and result.attributes:
            attributes.update(result.attributes)
        return ServerSpan(self, name, context, parent_context, attributes, recording)

    def finish(self, span: ReadableSpan) -> None:
        for processor in self._processors:
            processor.on_end(span)


class ServerSpan(trace.Span):
    """A request's span, recording (sampled or not) or not, until `end()`."""

    __slots__ = (
        "_attributes",
        "_checked",
        "_context",
        "_end_time",
        "_events",
        "_links",
        "_log_fields",
        "_name",
        "_parent",
        "_recording",
        "_spans",
        "_start_time",
        "_status",
    )

    def __init__(
        self,
        spans: ServerSpans,
        name: str,
        context: SpanContext,
        parent: SpanContext | None,
        attributes: dict[str, AttributeValue],
        recording: bool,
    ) -> None:
        self._spans = spans
        self._name = name
        self._context = context
        self._parent = parent
        self._attributes = attributes
        self._recording = recording
        self._checked: BoundedAttributes | None = None
        self._events: BoundedList[Event] | None = None
        self._links: BoundedList[Link] | None = None
        self._status = _UNSET
        self._start_time = time_ns()
        self._end_time: int | None = None
        self._log_fields: dict[str, str] | None = None

    def get_span_context(self) -> SpanContext:
        return self._context

    def is_recording(self) -> bool:
        return self._recording and self._end_time is None

    @property
    def log_fields(self) -> dict[str, str]:
        """`trace_id` and `span_id` in hex, for log lines; formatted once per span."""
        fields = self._log_fields
        if fields is None:
            fields = self._log_fields = {
                "trace_id": trace.format_trace_id(self._context.trace_id),
                "span_id": trace.format_span_id(self._context.span_id),
            }
        return fields

    def finish(self, name: str, attributes: Mapping[str, AttributeValue], error: bool) -> None:
        """Ends the span with its final name, the backend's own attributes added, and an
        error status if `error` (and no status was set before)."""
        if not self.is_recording():
            return
        self._name = name
        self._attributes.update(attributes)
        if error and self._status.status_code is StatusCode.UNSET:
            self._status = Status(StatusCode.ERROR)
        self.end()

    def end(self, end_time: int | None = None) -> None:
        if self._end_time is not None:
            _logger.warning("Calling end() on an ended span.")
            return
        self._end_time = end_time if end_time is not None else time_ns()
        if not self._recording:
            return
        attributes: Mapping[str, AnyValue] = self._attributes
        if self._checked is not None:
            self._checked.update(attributes)  # within the limits, as the SDK would
            attributes = self._checked
        spans = self._spans
        spans.finish(
            ReadableSpan(
                name=self._name,
                context=self._context,
                parent=self._parent,
                resource=spans.resource,
                attributes=attributes,
                events=self._events or (),
                links=self._links or (),
                kind=_KIND,
                status=self._status,
                start_time=self._start_time,
                end_time=self._end_time,
                instrumentation_scope=spans.scope,
            )
        )

    def _writable(self, what: str) -> bool:
        if self._end_time is not None:
            _logger.warning("Tried calling %s on an ended span.", what)
            return False
        return self._recording

    def set_attribute(self, key: str, value: AnyValue) -> None:
        self.set_attributes({key: value})

    def set_attributes(self, attributes: Mapping[str, AnyValue]) -> None:
        """Other code's attributes: checked and bounded as the SDK checks a span's."""
        if not self._writable("set_attributes"):
            return
        checked = self._checked
        if checked is None:
            limits = self._spans.limits
            checked = self._checked = BoundedAttributes(
                limits.max_span_attributes,
                self._attributes,
                immutable=False,
                max_value_len=limits.max_span_attribute_length,
            )
        for key, value in attributes.items():
            checked[key] = value
        # the backend's own attributes (set at the end) go to the checked map too
        self._attributes = {}

    def add_event(
        self, name: str, attributes: Attributes = None, timestamp: int | None = None
    ) -> None:
        if not self._writable("add_event"):
            return
        limits = self._spans.limits
        if self._events is None:
            self._events = BoundedList(limits.max_events)
        checked = BoundedAttributes(
            limits.max_event_attributes,
            attributes,
            max_value_len=limits.max_attribute_length,
            immutable=True,
        )
        self._events.append(Event(name, checked, timestamp))

    def add_link(self, context: SpanContext, attributes: Attributes = None) -> None:
        if not self._writable("add_link"):
            return
        if not (context and (context.is_valid or attributes or context.trace_state)):
            return
        limits = self._spans.limits
        if self._links is None:
            self._links = BoundedList(limits.max_links)
        checked = BoundedAttributes(
            limits.max_link_attributes,
            attributes,
            max_value_len=limits.max_attribute_length,
            immutable=True,
        )
        self._links.append(Link(context, checked))

    def update_name(self, name: str) -> None:
        if self._writable("update_name"):
            self._name = name

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        """As the SDK: OK is final, UNSET is ignored."""
        if not self._writable("set_status") or self._status.status_code is StatusCode.OK:
            return
        if isinstance(status, Status):
            if status.status_code is not StatusCode.UNSET:
                self._status = status
        elif status is not StatusCode.UNSET:
            self._status = Status(status, description)

    def record_exception(
        self,
        exception: BaseException,
        attributes: Attributes = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        """An `exception` event with the exception's type, message and stack trace."""
        if not self._writable("record_exception"):
            return
        module = type(exception).__module__
        qualname = type(exception).__qualname__
        fields: dict[str, AnyValue] = {
            EXCEPTION_TYPE: qualname if module in ("builtins", "") else f"{module}.{qualname}",
            EXCEPTION_MESSAGE: str(exception),
            EXCEPTION_STACKTRACE: "".join(traceback.format_exception(exception)),
            EXCEPTION_ESCAPED: str(escaped),
        }
        if attributes:
            fields.update(attributes)
        self.add_event("exception", fields, timestamp)

    def __repr__(self) -> str:
        return f'ServerSpan(name="{self._name}", context={self._context})'
