"""A span for each statement a plugin's engine runs, and its pool's usage as metrics.

The listeners sit on the engine itself (the shared one in schema mode, where each
statement's plugin comes from the view's execution options), so a statement is tagged
with the plugin and logical database it ran for.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from opentelemetry.metrics import CallbackOptions, Meter, Observation
from opentelemetry.trace import SpanKind, StatusCode, Tracer
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import Pool

__all__ = ["PLUGIN_OPTION", "DatabaseInstruments", "PoolGauges", "trace_statements"]

PLUGIN_OPTION = "backstage_plugin"
"""The execution option naming the plugin of a view of a shared engine."""
_SPAN = "_backstage_span"


def _operation(statement: str) -> str:
    text = statement.lstrip()
    if text.startswith("/*"):  # the schema tag of a shared pool
        text = text[text.find("*/") + 2 :].lstrip()
    return text.split(None, 1)[0].upper() if text else "SQL"


def trace_statements(
    engine: Engine, tracer: Tracer, *, system: str, database: str, plugin_id: str | None
) -> None:
    """Trace `engine`'s statements; `plugin_id` None reads it per statement (shared pool)."""

    def before(
        connection: Connection,
        _cursor: Any,
        statement: str,
        _parameters: Any,
        context: Any,
        _executemany: bool,
    ) -> None:
        options = connection.get_execution_options()
        plugin = plugin_id or options.get(PLUGIN_OPTION) or ""
        logical = options.get("backstage_schema") or database
        operation = _operation(statement)
        span = tracer.start_span(f"{operation} {logical}", kind=SpanKind.CLIENT)
        span.set_attribute("db.system.name", system)
        span.set_attribute("db.namespace", logical)
        span.set_attribute("db.operation.name", operation)
        span.set_attribute("db.query.text", statement)
        span.set_attribute("backstage.plugin_id", plugin)
        if context is not None:
            setattr(context, _SPAN, span)

    def after(
        _connection: Connection,
        _cursor: Any,
        _statement: str,
        _parameters: Any,
        context: Any,
        _executemany: bool,
    ) -> None:
        span = getattr(context, _SPAN, None)
        if span is not None:
            span.end()
            setattr(context, _SPAN, None)

    def failed(exception_context: Any) -> None:
        span = getattr(exception_context.execution_context, _SPAN, None)
        if span is not None:
            span.record_exception(exception_context.original_exception)
            span.set_status(StatusCode.ERROR)
            span.end()
            setattr(exception_context.execution_context, _SPAN, None)

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    event.listen(engine, "handle_error", failed)


@dataclass(frozen=True)
class _PluginPool:
    plugin_id: str
    pool: Pool
    shared: bool


class PoolGauges:
    """Each plugin's connection pool: connections in use and idle, and its size.

    In schema mode with a shared pool, every plugin on it reports the shared pool's figures
    with `backstage.db.pool.shared` true.
    """

    def __init__(self, meter: Meter) -> None:
        self._pools: dict[str, _PluginPool] = {}
        meter.create_observable_up_down_counter(
            "db.client.connection.count",
            callbacks=[self._connections],
            description="Connections of each plugin's pool, by state (used, idle)",
        )
        meter.create_observable_up_down_counter(
            "db.client.connection.max",
            callbacks=[self._sizes],
            description="The size of each plugin's pool (no overflow is allowed)",
        )

    def add(self, plugin_id: str, pool: Pool, *, shared: bool) -> None:
        self._pools[plugin_id] = _PluginPool(plugin_id, pool, shared)

    def remove_all(self) -> None:
        self._pools.clear()

    def _attributes(self, entry: _PluginPool) -> dict[str, str | bool]:
        return {"backstage.plugin_id": entry.plugin_id, "backstage.db.pool.shared": entry.shared}

    def _connections(self, _options: CallbackOptions) -> Iterable[Observation]:
        for entry in list(self._pools.values()):
            pool: Any = entry.pool
            if not hasattr(pool, "checkedout"):
                continue
            attributes = self._attributes(entry)
            yield Observation(
                pool.checkedout(), {**attributes, "db.client.connection.state": "used"}
            )
            yield Observation(
                pool.checkedin(), {**attributes, "db.client.connection.state": "idle"}
            )

    def _sizes(self, _options: CallbackOptions) -> Iterable[Observation]:
        for entry in list(self._pools.values()):
            pool: Any = entry.pool
            if hasattr(pool, "size"):
                yield Observation(pool.size(), self._attributes(entry))


class DatabaseInstruments:
    """The database hooks (`DATABASE_HOOKS`): statement spans when tracing is on, pool
    gauges (registered with the first pool) when metrics are."""

    def __init__(self, tracer: Tracer | None, meter: Meter | None) -> None:
        self._tracer = tracer
        self._meter = meter
        self._pool_gauges: PoolGauges | None = None

    def engine_created(
        self, engine: Engine, *, system: str, database: str, plugin_id: str | None
    ) -> None:
        if self._tracer is not None:
            trace_statements(
                engine, self._tracer, system=system, database=database, plugin_id=plugin_id
            )

    def pool_in_use(self, plugin_id: str, pool: Pool, *, shared: bool) -> None:
        if self._meter is None:
            return
        if self._pool_gauges is None:
            self._pool_gauges = PoolGauges(self._meter)
        self._pool_gauges.add(plugin_id, pool, shared=shared)

    def pools_closed(self) -> None:
        if self._pool_gauges is not None:
            self._pool_gauges.remove_all()
