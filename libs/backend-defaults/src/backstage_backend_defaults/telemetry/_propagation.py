"""The trace context propagators named by `OTEL_PROPAGATORS`.

A comma-separated list, as the OpenTelemetry SDKs read it: `tracecontext` (W3C Trace
Context) and `baggage` (W3C Baggage) by default; `b3` (B3 single header) and `b3multi`
(`X-B3-*` headers) from `opentelemetry-propagator-b3`; any other propagator an installed
package registers under the `opentelemetry_propagator` entry-point group; `none` for no
propagation. Incoming requests are read with all of them; outgoing calls carry all of them.

OpenTelemetry loads only when a propagator is built: a backend that traces nothing checks
the names (`check_propagators`) without it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING

from backstage_common.errors import InputError

if TYPE_CHECKING:
    from opentelemetry.propagators.textmap import TextMapPropagator

__all__ = ["DEFAULT_PROPAGATORS", "check_propagators", "text_map_propagator"]

DEFAULT_PROPAGATORS = "tracecontext,baggage"
_GROUP = "opentelemetry_propagator"


def _names(env: Mapping[str, str]) -> list[str]:
    raw = env.get("OTEL_PROPAGATORS", "").strip() or DEFAULT_PROPAGATORS
    names = [name.strip().lower() for name in raw.split(",") if name.strip()]
    return [] if names == ["none"] else names


def check_propagators(env: Mapping[str, str]) -> None:
    """Raise `InputError` naming an unknown propagator in `OTEL_PROPAGATORS` and the
    installed ones, as `text_map_propagator` would, without building any."""
    for name in _names(env):
        if name not in _KNOWN:
            _entry_point(name)


def text_map_propagator(env: Mapping[str, str]) -> TextMapPropagator:
    """The propagators `OTEL_PROPAGATORS` names, as one composite propagator.

    Raises `InputError` naming an unknown propagator and the installed ones.
    """
    from opentelemetry.propagators.composite import CompositePropagator

    return CompositePropagator([_propagator(name) for name in _names(env)])


def _entry_point(name: str) -> EntryPoint:
    # other propagators by their entry point; scanning every installed package's metadata
    # takes a while, so only for names the SDK and B3 packages do not provide
    installed = {entry.name: entry for entry in entry_points(group=_GROUP)}
    entry = installed.get(name)
    if entry is None:
        choices = ", ".join(sorted({*installed, *_KNOWN, "none"}))
        raise InputError(f"Invalid propagator '{name}' in OTEL_PROPAGATORS, use one of {choices}")
    return entry


def _propagator(name: str) -> TextMapPropagator:
    known = _KNOWN.get(name)
    if known is not None:
        return known()
    propagator: TextMapPropagator = _entry_point(name).load()()
    return propagator


def _trace_context() -> TextMapPropagator:
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    return TraceContextTextMapPropagator()


def _baggage() -> TextMapPropagator:
    from opentelemetry.baggage.propagation import W3CBaggagePropagator

    return W3CBaggagePropagator()


def _b3_single() -> TextMapPropagator:
    from opentelemetry.propagators.b3 import B3SingleFormat

    return B3SingleFormat()


def _b3_multi() -> TextMapPropagator:
    from opentelemetry.propagators.b3 import B3MultiFormat

    return B3MultiFormat()


_KNOWN: dict[str, Callable[[], TextMapPropagator]] = {
    "tracecontext": _trace_context,
    "baggage": _baggage,
    "b3": _b3_single,
    "b3multi": _b3_multi,
}
