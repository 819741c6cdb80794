"""The server span of each incoming request, without the SDK's per-span machinery.

The SDK's `Tracer.start_span` validates every attribute value, builds a bounded attribute
map, a lock, bounded event and link lists and a start notice for each span; a request's
span then pays again for a snapshot when it ends. For the one span every request gets, this
module keeps what OpenTelemetry defines and drops the rest:

- the provider's sampler decides, with the provider's id generator, so sampling
  (`parentbased_traceidratio`, a remote parent's sampled flag) works as for any span; the
  SDK's constant samplers (`parentbased_always_on`, the default, ...) are not asked about
  a request without trace context, as their answer for it never varies;
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
from opentelemetry.sdk.trace import Event, ReadableSpan, SpanLimits, SpanProcessor, sampling
from opentelemetry.sdk.trace.sampling import Decision, Sampler
from opentelemetry.sdk.util import BoundedList
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.util.types import AnyValue, Attributes, AttributeValue

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

__all__ = ["ServerSpan", "ServerSpans"]

_logger = logging.getLogger(__name__)
_UNSET = Status(StatusCode.UNSET)
_ERROR = Status(StatusCode.ERROR)
_KIND = SpanKind.SERVER
_NO_PARENT = Context()


def _fixed_root_decision(sampler: Sampler) -> Decision | None:
    """The decision of the SDK's constant samplers for a span without a parent, which never
    varies (so it need not be asked for each request); None for any other sampler."""
    if sampler is sampling.ALWAYS_ON or sampler is sampling.DEFAULT_ON:
        return Decision.RECORD_AND_SAMPLE
    if sampler is sampling.ALWAYS_OFF or sampler is sampling.DEFAULT_OFF:
        return Decision.DROP
    return None


def _frozen(attributes: Attributes, most: int | None, limits: SpanLimits) -> BoundedAttributes:
    """An event's or link's attributes, checked and bounded as the SDK does."""
    return BoundedAttributes(
        most, attributes, max_value_len=limits.max_attribute_length, immutable=True
    )


class ServerSpans:
    """Starts request spans with a provider's sampler and ids; ends them into its processors."""

    __slots__ = (
        "_flags",
        "_id_generator",
        "_random_ids",
        "_root_decision",
        "_sampler",
        "limits",
        "processors",
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
        self._root_decision = _fixed_root_decision(provider.sampler)
        self._id_generator = provider.id_generator
        self._random_ids = provider.id_generator.is_trace_id_random()
        self.resource = provider.resource
        self.processors = tuple(processors)
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
        """A started span; `parent` holds the caller's trace context, if it sent any.

        As in OpenTelemetry's ASGI instrumentation, a request without trace context starts
        a trace of its own, whatever the context the server runs in.
        """
        parent_context: SpanContext | None = None
        if parent is not None:
            candidate = trace.get_current_span(parent).get_span_context()
            if candidate.is_valid:
                parent_context = candidate
        if parent_context is None:
            trace_id = self._id_generator.generate_trace_id()
            is_random = self._random_ids
            decision = self._root_decision
        else:
            trace_id = parent_context.trace_id
            is_random = parent_context.trace_flags.random_trace_id
            decision = None
        trace_state = None
        if decision is None:
            result = self._sampler.should_sample(
                parent if parent is not None else _NO_PARENT, trace_id, name, _KIND, attributes, ()
            )
            decision = result.decision
            trace_state = result.trace_state
            if decision is not Decision.DROP and result.attributes:
                attributes.update(result.attributes)
        context = SpanContext(
            trace_id,
            self._id_generator.generate_span_id(),
            False,
            self._flags[decision is Decision.RECORD_AND_SAMPLE, is_random],
            trace_state,
        )
        recording = decision is not Decision.DROP
        return ServerSpan(self, name, context, parent_context, attributes, recording)


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
        """`trace_id` and `span_id` in hex (as OpenTelemetry formats them), for log lines;
        formatted once per span."""
        fields = self._log_fields
        if fields is None:
            context = self._context
            fields = self._log_fields = {
                "trace_id": f"{context.trace_id:032x}",
                "span_id": f"{context.span_id:016x}",
            }
        return fields

    @property
    def log_json(self) -> bytes:
        """`log_fields` as the members of a JSON object (`,"trace_id":"…","span_id":"…"`)."""
        context = self._context
        return b',"trace_id":"%032x","span_id":"%016x"' % (context.trace_id, context.span_id)

    def end_request(self, method: str, route: str, status: int) -> None:
        """Ends the span of a request: named `<METHOD> <route>` once a route matched, with
        the route and the response status, and an error status from 500 on (unless a
        status was set before)."""
        if not self._recording or self._end_time is not None:
            return
        attributes = self._attributes
        if route:
            self._name = f"{method} {route}"
            attributes["http.route"] = route
        attributes["http.response.status_code"] = status
        if status >= 500 and self._status is _UNSET:
            self._status = _ERROR
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
        # positional, in the order of `ReadableSpan.__init__`: a third of the keywords' cost
        readable = ReadableSpan(
            self._name,
            self._context,
            self._parent,
            spans.resource,
            attributes,
            self._events or (),
            self._links or (),
            _KIND,
            None,  # instrumentation_info, deprecated for instrumentation_scope
            self._status,
            self._start_time,
            self._end_time,
            spans.scope,
        )
        for processor in spans.processors:
            processor.on_end(readable)

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
        checked = _frozen(attributes, limits.max_event_attributes, limits)
        self._events.append(Event(name, checked, timestamp))

    def add_link(self, context: SpanContext, attributes: Attributes = None) -> None:
        if not self._writable("add_link"):
            return
        if not (context and (context.is_valid or attributes or context.trace_state)):
            return
        limits = self._spans.limits
        if self._links is None:
            self._links = BoundedList(limits.max_links)
        self._links.append(Link(context, _frozen(attributes, limits.max_link_attributes, limits)))

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
            "exception.type": qualname if module in ("builtins", "") else f"{module}.{qualname}",
            "exception.message": str(exception),
            "exception.stacktrace": "".join(traceback.format_exception(exception)),
            "exception.escaped": str(escaped),
        }
        if attributes:
            fields.update(attributes)
        self.add_event("exception", fields, timestamp)

    def __repr__(self) -> str:
        return f'ServerSpan(name="{self._name}", context={self._context})'
