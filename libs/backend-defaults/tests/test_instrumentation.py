"""The instrumentation seam: the core services call whatever hooks the backend's
instrumentation service registered on their hook points, with no telemetry involved."""

from __future__ import annotations

from typing import Any

from backstage_backend_defaults.cache import CACHE_HOOKS, CacheStore
from backstage_backend_defaults.database import DATABASE_HOOKS
from backstage_backend_defaults.http_router import REQUEST_HOOKS, StartedRequest
from backstage_backend_defaults.instrumentation import (
    Instrumentation,
    instrumentation_service_ref,
)
from backstage_backend_plugin_api import ServiceFactory, create_service_factory
from backstage_backend_test_utils import start_test_backend
from sqlalchemy.engine import Engine
from sqlalchemy.pool import Pool

from .test_telemetry import things_plugin


class _Requests:
    def __init__(self, calls: list[tuple[Any, ...]]) -> None:
        self.calls = calls

    def start(self, scope: Any, plugin_id: str | None) -> StartedRequest:
        self.calls.append(("start", scope["path"], plugin_id))
        return None, "token"

    def end(
        self,
        started: StartedRequest,
        scope: Any,
        status: int,
        duration: float,
        plugin_id: str | None,
    ) -> None:
        self.calls.append(("end", started[1], scope["path_template"], status, plugin_id))


class _Cache:
    def __init__(self, calls: list[tuple[Any, ...]]) -> None:
        self.calls = calls

    def plugin_store(self, store: CacheStore, *, store_name: str, plugin_id: str) -> CacheStore:
        self.calls.append(("cache", store_name, plugin_id))
        return store


class _Database:
    def __init__(self, calls: list[tuple[Any, ...]]) -> None:
        self.calls = calls

    def engine_created(
        self, engine: Engine, *, system: str, database: str, plugin_id: str | None
    ) -> None:
        self.calls.append(("engine", system, plugin_id))

    def pool_in_use(self, plugin_id: str, pool: Pool, *, shared: bool) -> None:
        self.calls.append(("pool", plugin_id, shared))

    def pools_closed(self) -> None:
        self.calls.append(("closed",))


def _instrumentation(instrumentation: Instrumentation) -> ServiceFactory[Instrumentation]:
    return create_service_factory(
        service=instrumentation_service_ref, factory=lambda: instrumentation
    )


async def test_the_services_call_the_hooks_registered_on_their_points() -> None:
    calls: list[tuple[Any, ...]] = []
    instrumentation = Instrumentation()
    instrumentation.register(REQUEST_HOOKS, _Requests(calls))
    instrumentation.register(CACHE_HOOKS, _Cache(calls))
    instrumentation.register(DATABASE_HOOKS, _Database(calls))
    features = [things_plugin(), _instrumentation(instrumentation)]
    async with start_test_backend(features=features) as test:
        response = await test.client.get("/api/things/things/a")
    assert response.status_code == 200
    assert calls == [
        ("cache", "memory", "things"),  # the plugin's cache client, made at its start
        ("start", "/api/things/things/a", "things"),
        ("engine", "sqlite", "things"),
        ("pool", "things", False),
        ("end", "token", "/api/things/things/{key}", 200, "things"),
        ("closed",),
    ]


async def test_with_nothing_registered_the_services_serve_as_usual() -> None:
    instrumentation = Instrumentation()
    features = [things_plugin(), _instrumentation(instrumentation)]
    async with start_test_backend(features=features) as test:
        response = await test.client.get("/api/things/things/a")
    assert response.json() == {"key": "a", "cached": False, "answer": 42}
    assert instrumentation.get(REQUEST_HOOKS) is None
