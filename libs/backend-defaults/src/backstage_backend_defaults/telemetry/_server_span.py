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

The provider's span processors see the span start (`on_start`, with the request's parent
context) and end (`on_end`), as they see the SDK's spans; those whose `on_start` does
nothing (the SDK's simple and batch processors) are not called at the start. Processors
added to the provider later (`add_span_processor`, on the global provider too) take part
from the next request on. A span belongs to its request's task: it takes no lock.
"""

from __future__ import annotations

import logging
import random
import traceback
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from time import time_ns
from typing import TYPE_CHECKING

from opentelemetry import context as context_api
from opentelemetry import trace
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.context import Context
from opentelemetry.sdk.trace import Event, ReadableSpan, SpanLimits, SpanProcessor, sampling
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator, RandomIdGenerator
from opentelemetry.sdk.trace.sampling import Decision, Sampler
from opentelemetry.sdk.util import BoundedList
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import (
    Link,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    TraceState,
)
from opentelemetry.util.types import AnyValue, Attributes, AttributeValue

if TYPE_CHECKING:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

__all__ = ["ServerSpan", "ServerSpans", "current_context_var"]

_logger = logging.getLogger(__name__)
_UNSET = Status(StatusCode.UNSET)
_ERROR = Status(StatusCode.ERROR)
_KIND = SpanKind.SERVER
_NO_PARENT = Context()
_SUPPRESSED = context_api.set_value(context_api._SUPPRESS_INSTRUMENTATION_KEY, True, Context())


def current_context_var() -> ContextVar[Context] | None:
    """The variable that holds the current context, when the runtime context is the API's
    default (contextvars): a request's span is then set and reset on it directly, without
    the API's per-call checks. None with any other runtime context."""
    runtime = getattr(context_api, "_RUNTIME_CONTEXT", None)
    variable = getattr(runtime, "_current_context", None)
    return variable if isinstance(variable, ContextVar) else None


def _id_makers(generator: IdGenerator) -> tuple[Callable[[], int], Callable[[], int]]:
    """New trace and span ids: the default generator's random bits, drawn straight from
    `random` (the generator's own source) unless they are zero, which is no valid id."""
    if type(generator) is not RandomIdGenerator:
        return generator.generate_trace_id, generator.generate_span_id
    bits = random.getrandbits

    def trace_id() -> int:
        return bits(128) or generator.generate_trace_id()

    def span_id() -> int:
        return bits(64) or generator.generate_span_id()

    return trace_id, span_id


class _ExportNow:
    """What `SimpleSpanProcessor.on_end` does for an ended span, without asking the context
    for its current values: a sampled span is handed to the exporter at once, with
    instrumentation suppressed (so the exporter's own calls are not traced)."""

    __slots__ = ("_current", "_exporter")

    def __init__(self, exporter: SpanExporter) -> None:
        self._exporter = exporter
        self._current = current_context_var()

    def __call__(self, span: ServerSpan) -> None:
        if not span.sampled:
            return
        current = self._current
        token = context_api.attach(_SUPPRESSED) if current is None else current.set(_SUPPRESSED)
        try:
            self._exporter.export((span,))
        except Exception:
            _logger.exception("Exception while exporting Span.")
        finally:
            if current is None:
                context_api.detach(token)
            else:
                current.reset(token)


def _ending(processor: SpanProcessor) -> Callable[[ServerSpan], None]:
    if type(processor) is SimpleSpanProcessor:
        return _ExportNow(processor.span_exporter)
    return processor.on_end


# `on_start` methods known to do nothing: not called for each request
_IDLE_STARTS = frozenset(
    {SpanProcessor.on_start, SimpleSpanProcessor.on_start, BatchSpanProcessor.on_start}
)
_Starting = Callable[..., None]


def _processors_of(provider: TracerProvider) -> Callable[[], tuple[SpanProcessor, ...]]:
    """Reads the provider's current span processors. The SDK keeps them in its multi
    processor's tuple, which `add_span_processor` replaces (so a changed tuple means a
    changed list); another multi processor stands for itself."""
    active = provider._active_span_processor
    if isinstance(getattr(active, "_span_processors", None), tuple):
        return lambda: active._span_processors
    return lambda: (active,)


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
        "_current_processors",
        "_flags",
        "_new_span_id",
        "_new_trace_id",
        "_processors",
        "_random_ids",
        "_root_decision",
        "_sampler",
        "ending",
        "limits",
        "resource",
        "scope",
        "starting",
    )

    def __init__(self, provider: TracerProvider, instrumentation_name: str) -> None:
        self._current_processors = _processors_of(provider)
        self._processors: tuple[SpanProcessor, ...] | None = None
        self.ending: tuple[Callable[[ServerSpan], None], ...] = ()
        self.starting: tuple[_Starting, ...] = ()
        self._follow_processors()
        self._sampler = provider.sampler
        self._root_decision = _fixed_root_decision(provider.sampler)
        self._new_trace_id, self._new_span_id = _id_makers(provider.id_generator)
        self._random_ids = provider.id_generator.is_trace_id_random()
        self.resource = provider.resource
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

    def _follow_processors(self) -> None:
        processors = self._current_processors()
        if processors is self._processors:
            return
        self._processors = processors
        self.ending = tuple(_ending(processor) for processor in processors)
        self.starting = tuple(
            processor.on_start
            for processor in processors
            if getattr(type(processor), "on_start", None) not in _IDLE_STARTS
        )

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
            trace_id = self._new_trace_id()
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
        sampled = decision is Decision.RECORD_AND_SAMPLE
        if self._current_processors() is not self._processors:
            self._follow_processors()
        span = ServerSpan(
            self,
            name,
            trace_id,
            self._new_span_id(),
            self._flags[sampled, is_random],
            trace_state,
            parent_context,
            attributes,
            decision is not Decision.DROP,
            sampled,
        )
        if self.starting and span._recording:  # the SDK starts no processor for a dropped span
            for on_start in self.starting:
                on_start(span, parent_context=parent)
        return span


class ServerSpan(trace.Span, ReadableSpan):
    """A request's span, recording (sampled or not) or not, until `end()`.

    It is its own `ReadableSpan` once ended (nothing can change it then): the processors get
    the span itself, not a copy. Its `SpanContext` is built when first asked for.
    """

    # what every request sets; the rest are class defaults until a request changes them
    __slots__ = (
        "_attributes",
        "_end_time",
        "_flags",
        "_name",
        "_own",
        "_parent",
        "_recording",
        "_span_id",
        "_spans",
        "_start_time",
        "_trace_id",
        "_trace_state",
        "sampled",
    )
    _built_context: SpanContext | None = None
    _checked: BoundedAttributes | None = None
    _events: Sequence[Event] = ()
    _links: Sequence[Link] = ()
    _status = _UNSET
    _log_fields: dict[str, str] | None = None
    _kind = _KIND
    _instrumentation_info = None

    def __init__(
        self,
        spans: ServerSpans,
        name: str,
        trace_id: int,
        span_id: int,
        flags: TraceFlags,
        trace_state: TraceState | None,
        parent: SpanContext | None,
        attributes: dict[str, AttributeValue],
        recording: bool,
        sampled: bool,
    ) -> None:
        self._spans = spans
        self._name = name
        self._trace_id = trace_id
        self._span_id = span_id
        self._flags = flags
        self._trace_state = trace_state
        self._parent = parent
        self._own = attributes  # the backend's own: strings and ints, unchecked
        self._attributes: Mapping[str, AnyValue] = attributes  # what exporters read
        self._recording = recording
        self.sampled = sampled  # to be exported (`flags` has it too)
        self._start_time = time_ns()
        self._end_time: int | None = None

    @property
    def resource(self) -> Resource:
        return self._spans.resource

    @property
    def instrumentation_scope(self) -> InstrumentationScope:
        return self._spans.scope

    @property
    def _context(self) -> SpanContext:  # where `ReadableSpan` keeps it
        context = self._built_context
        if context is None:
            context = self._built_context = SpanContext(
                self._trace_id, self._span_id, False, self._flags, self._trace_state
            )
        return context

    @_context.setter
    def _context(self, context: SpanContext) -> None:
        self._built_context = context

    def get_span_context(self) -> SpanContext:
        return self._context

    @property
    def context(self) -> SpanContext:
        return self._context

    def is_recording(self) -> bool:
        return self._recording and self._end_time is None

    @property
    def log_fields(self) -> dict[str, str]:
        """`trace_id` and `span_id` in hex (as OpenTelemetry formats them), for log lines;
        formatted once per span."""
        fields = self._log_fields
        if fields is None:
            fields = self._log_fields = {
                "trace_id": f"{self._trace_id:032x}",
                "span_id": f"{self._span_id:016x}",
            }
        return fields

    @property
    def log_json(self) -> bytes:
        """`log_fields` as the members of a JSON object (`,"trace_id":"…","span_id":"…"`)."""
        return b',"trace_id":"%032x","span_id":"%016x"' % (self._trace_id, self._span_id)

    def end_request(self, method: str, route: str, status: int) -> None:
        """Ends the span of a request: named `<METHOD> <route>` once a route matched, with
        the route and the response status, and an error status from 500 on (unless a
        status was set before)."""
        if not self._recording or self._end_time is not None:
            return
        attributes = self._own
        if route:
            self._name = f"{method} {route}"
            attributes["http.route"] = route
        attributes["http.response.status_code"] = status
        if status >= 500 and self._status is _UNSET:
            self._status = _ERROR
        self._end_time = time_ns()
        self._finish()

    def end(self, end_time: int | None = None) -> None:
        if self._end_time is not None:
            _logger.warning("Calling end() on an ended span.")
            return
        self._end_time = end_time if end_time is not None else time_ns()
        if self._recording:
            self._finish()

    def _finish(self) -> None:
        """Hands the ended span to the processors."""
        if self._checked is not None:
            self._checked.update(self._own)  # within the limits, as the SDK would
            self._attributes = self._checked
        for ending in self._spans.ending:
            ending(self)

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
                self._own,
                immutable=False,
                max_value_len=limits.max_span_attribute_length,
            )
            # the backend's own attributes (set at the end) go to the checked map too
            self._own = {}
        for key, value in attributes.items():
            checked[key] = value

    def add_event(
        self, name: str, attributes: Attributes = None, timestamp: int | None = None
    ) -> None:
        if not self._writable("add_event"):
            return
        limits = self._spans.limits
        events = self._events
        if not isinstance(events, BoundedList):
            events = self._events = BoundedList(limits.max_events)
        checked = _frozen(attributes, limits.max_event_attributes, limits)
        events.append(Event(name, checked, timestamp))

    def add_link(self, context: SpanContext, attributes: Attributes = None) -> None:
        if not self._writable("add_link"):
            return
        if not (context and (context.is_valid or attributes or context.trace_state)):
            return
        limits = self._spans.limits
        links = self._links
        if not isinstance(links, BoundedList):
            links = self._links = BoundedList(limits.max_links)
        links.append(Link(context, _frozen(attributes, limits.max_link_attributes, limits)))

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
