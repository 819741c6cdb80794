"""Exporters named by the standard `OTEL_*` environment variables.

`OTEL_TRACES_EXPORTER` and `OTEL_METRICS_EXPORTER` take a comma-separated list of `otlp`,
`console` and `none`; unset means `none` here (nothing is exported unless asked for).
`otlp` speaks `http/protobuf` unless `OTEL_EXPORTER_OTLP_PROTOCOL` (or the signal's own
`OTEL_EXPORTER_OTLP_{TRACES,METRICS}_PROTOCOL`) says `grpc`; the exporters read their
endpoint, headers and timeouts (`OTEL_EXPORTER_OTLP_ENDPOINT`, ...) themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

from backstage_common.errors import InputError

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics.export import MetricExporter
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.sdk.trace.sampling import Sampler

__all__ = ["exporter_names", "metric_exporters", "sampler", "span_exporters"]

Signal = Literal["traces", "metrics"]
_NAMES = ("otlp", "console", "none")
_PROTOCOLS = ("http/protobuf", "grpc")


def exporter_names(env: Mapping[str, str], signal: Signal) -> list[str]:
    """The exporters asked for in `OTEL_<SIGNAL>_EXPORTER`, without `none`."""
    key = f"OTEL_{signal.upper()}_EXPORTER"
    names = [name.strip().lower() for name in env.get(key, "none").split(",") if name.strip()]
    for name in names:
        if name not in _NAMES:
            raise InputError(f"Invalid exporter '{name}' in {key}, use one of {', '.join(_NAMES)}")
    return [name for name in names if name != "none"]


def _protocol(env: Mapping[str, str], signal: Signal) -> str:
    key = f"OTEL_EXPORTER_OTLP_{signal.upper()}_PROTOCOL"
    if key not in env:
        key = "OTEL_EXPORTER_OTLP_PROTOCOL"
    value = env.get(key, "http/protobuf").strip().lower()
    if value not in _PROTOCOLS:
        raise InputError(f"Invalid protocol '{value}' in {key}, use one of {', '.join(_PROTOCOLS)}")
    return value


def span_exporters(env: Mapping[str, str]) -> list[SpanExporter]:
    exporters: list[SpanExporter] = []
    for name in exporter_names(env, "traces"):
        if name == "console":
            from opentelemetry.sdk.trace.export import ConsoleSpanExporter

            exporters.append(ConsoleSpanExporter())
        elif _protocol(env, "traces") == "grpc":
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

            exporters.append(OTLPSpanExporter())
        else:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
                OTLPSpanExporter as HttpSpanExporter,
            )

            exporters.append(HttpSpanExporter())
    return exporters


def metric_exporters(env: Mapping[str, str]) -> list[MetricExporter]:
    exporters: list[MetricExporter] = []
    for name in exporter_names(env, "metrics"):
        if name == "console":
            from opentelemetry.sdk.metrics.export import ConsoleMetricExporter

            exporters.append(ConsoleMetricExporter())
        elif _protocol(env, "metrics") == "grpc":
            from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter

            exporters.append(OTLPMetricExporter())
        else:
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
                OTLPMetricExporter as HttpMetricExporter,
            )

            exporters.append(HttpMetricExporter())
    return exporters


_SAMPLERS = (
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
)


def sampler(env: Mapping[str, str]) -> Sampler:
    """`OTEL_TRACES_SAMPLER` (default `parentbased_always_on`) with `OTEL_TRACES_SAMPLER_ARG`
    (the ratio of the `traceidratio` samplers, default 1.0)."""
    from opentelemetry.sdk.trace import sampling

    name = env.get("OTEL_TRACES_SAMPLER", "parentbased_always_on").strip().lower()
    if name not in _SAMPLERS:
        raise InputError(
            f"Invalid sampler '{name}' in OTEL_TRACES_SAMPLER, use one of {', '.join(_SAMPLERS)}"
        )
    raw = env.get("OTEL_TRACES_SAMPLER_ARG", "1.0")
    try:
        ratio = float(raw)
    except ValueError:
        ratio = -1.0
    if not 0.0 <= ratio <= 1.0:
        raise InputError(f"Invalid ratio '{raw}' in OTEL_TRACES_SAMPLER_ARG, use 0 to 1")
    constant: dict[str, Sampler] = {  # the SDK's own instances (the server span knows them)
        "always_on": sampling.ALWAYS_ON,
        "always_off": sampling.ALWAYS_OFF,
        "parentbased_always_on": sampling.DEFAULT_ON,
        "parentbased_always_off": sampling.DEFAULT_OFF,
    }
    if name in constant:
        return constant[name]
    root = sampling.TraceIdRatioBased(ratio)
    return sampling.ParentBased(root) if name.startswith("parentbased_") else root
