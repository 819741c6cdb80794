"""A span and counters for each cache call of a plugin: store, operation, hit or miss."""

from __future__ import annotations

from collections.abc import Awaitable

from opentelemetry.metrics import Counter, Meter
from opentelemetry.trace import Span, SpanKind, StatusCode, Tracer

from backstage_backend_defaults.cache import CacheStore

__all__ = ["CacheInstruments", "InstrumentedStore"]


class CacheInstruments:
    """The cache hooks (`CACHE_HOOKS`): the backend's cache counters, shared by every
    plugin's instrumented store."""

    def __init__(self, tracer: Tracer | None, meter: Meter | None) -> None:
        self.tracer = tracer
        self.operations: Counter | None = None
        if meter is not None:
            self.operations = meter.create_counter(
                "backstage.cache.operations",
                description="Cache calls per plugin and operation, by result (hit, miss, "
                "ok, error)",
            )

    def plugin_store(self, store: CacheStore, *, store_name: str, plugin_id: str) -> CacheStore:
        return InstrumentedStore(store, plugin_id, store_name, self)


class InstrumentedStore:
    """One plugin's view of the backend's store that traces and counts each call; errors
    are counted and passed on (the cache client turns them into misses)."""

    def __init__(
        self, store: CacheStore, plugin_id: str, store_name: str, instruments: CacheInstruments
    ) -> None:
        self._store = store
        self._plugin_id = plugin_id
        self._store_name = store_name
        self._instruments = instruments

    def _record(self, operation: str, result: str) -> None:
        counter = self._instruments.operations
        if counter is not None:
            counter.add(
                1,
                {
                    "backstage.plugin_id": self._plugin_id,
                    "backstage.cache.store": self._store_name,
                    "backstage.cache.operation": operation,
                    "backstage.cache.result": result,
                },
            )

    async def get(self, key: str) -> bytes | None:
        tracer = self._instruments.tracer
        if tracer is None:
            try:
                value = await self._store.get(key)
            except Exception:
                self._record("get", "error")
                raise
            self._record("get", "miss" if value is None else "hit")
            return value
        with tracer.start_as_current_span(
            "cache get", kind=SpanKind.CLIENT, record_exception=True
        ) as span:
            self._tag(span, "get")
            try:
                value = await self._store.get(key)
            except Exception:
                self._record("get", "error")
                span.set_status(StatusCode.ERROR)
                raise
            hit = value is not None
            span.set_attribute("backstage.cache.hit", hit)
            self._record("get", "hit" if hit else "miss")
            return value

    async def set(self, key: str, value: bytes, ttl: float | None) -> None:
        await self._write("set", self._store.set(key, value, ttl))

    async def delete(self, key: str) -> None:
        await self._write("delete", self._store.delete(key))

    async def close(self) -> None:
        await self._store.close()

    def _tag(self, span: Span, operation: str) -> None:
        span.set_attribute("backstage.plugin_id", self._plugin_id)
        span.set_attribute("backstage.cache.store", self._store_name)
        span.set_attribute("backstage.cache.operation", operation)

    async def _write(self, operation: str, call: Awaitable[None]) -> None:
        tracer = self._instruments.tracer
        try:
            if tracer is None:
                await call
            else:
                with tracer.start_as_current_span(
                    f"cache {operation}", kind=SpanKind.CLIENT, record_exception=True
                ) as span:
                    self._tag(span, operation)
                    await call
        except Exception:
            self._record(operation, "error")
            raise
        self._record(operation, "ok")
