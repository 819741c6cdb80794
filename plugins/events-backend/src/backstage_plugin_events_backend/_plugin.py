"""The `events` plugin: webhook ingress at `/api/events/http/<topic>` and the event bus at
`/api/events/bus/v1` (in the plugin's PostgreSQL database, in memory on any other)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from backstage_backend_plugin_api import (
    BackendPlugin,
    DatabaseService,
    LoggerService,
    PluginRegistrationPoints,
    RootHealthService,
    create_backend_plugin,
)
from backstage_backend_plugin_api import core_services as core
from backstage_common.errors import InputError
from backstage_plugin_events_node import (
    Events,
    HttpBodyParser,
    HttpPostIngressOptions,
    events_extension_point,
)

from backstage_plugin_events_backend._bus_routes import bus_routes
from backstage_plugin_events_backend._ingress import ingress_routes, json_parser
from backstage_plugin_events_backend._pg_store import PostgresEventBusStore
from backstage_plugin_events_backend._store import (
    EventBusStore,
    MemoryEventBusStore,
    TopicWaiters,
)
from backstage_plugin_events_backend.migrations import versions

__all__ = ["events_plugin"]

PLUGIN_ID = "events"
_DEFAULT_NOTIFY_TIMEOUT_MS = 55_000
_CLEANUP_EVERY = timedelta(seconds=10)
_STOP_CHECK_SECONDS = 1.0


class _EventsApi:
    """`events.api`: what modules registered (their topics win over config)."""

    def __init__(self) -> None:
        self.ingresses: dict[str, HttpPostIngressOptions] = {}
        self.parsers: dict[str, HttpBodyParser] = {"application/json": json_parser}

    def add_http_post_ingress(self, options: HttpPostIngressOptions) -> None:
        if not options.topic or "/" in options.topic:
            raise InputError(f"Invalid events ingress topic '{options.topic}'")
        self.ingresses[options.topic] = options

    def add_http_post_body_parser(self, content_type: str, parser: HttpBodyParser) -> None:
        self.parsers[content_type.strip().lower()] = parser


def _notify_timeout_ms(config: core.RootConfig) -> int:
    value = config.get_optional_number("events.notifyTimeoutMs")
    if value is None:
        return _DEFAULT_NOTIFY_TIMEOUT_MS
    if value <= 0:
        raise InputError("events.notifyTimeoutMs must be a positive number of milliseconds")
    return int(value)


async def _open_store(database: DatabaseService, logger: LoggerService) -> EventBusStore:
    engine = await database.get_engine()
    if engine.dialect.name != "postgresql":
        logger.info("The event bus keeps events in memory (its database is not PostgreSQL)")
        return MemoryEventBusStore()
    await database.migrate(Path(versions.__file__).parent)
    store = PostgresEventBusStore(database, logger)
    await store.start()
    return store


class _StopWatch:
    """Ends the held long polls once the backend stops being ready (it is stopping): they
    would otherwise hold the shutdown's drain for up to `events.notifyTimeoutMs`."""

    def __init__(self, health: RootHealthService, waiters: TopicWaiters) -> None:
        self._health = health
        self._waiters = waiters
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._watch())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self._waiters.wake_all()

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(_STOP_CHECK_SECONDS)
            # not ready also while starting: the polls then end early and come back, cheaply
            if len(self._waiters) and (await self._health.get_readiness()).status != 200:
                self._waiters.wake_all()


def _register(env: PluginRegistrationPoints) -> None:
    api = _EventsApi()
    env.register_extension_point(events_extension_point, api)

    async def init(
        config: core.RootConfig,
        logger: core.Logger,
        router: core.HttpRouter,
        http_auth: core.HttpAuth,
        database: core.Database,
        scheduler: core.Scheduler,
        lifecycle: core.Lifecycle,
        health: core.RootHealth,
        events: Events,
    ) -> None:
        ingresses = dict(api.ingresses)
        for topic in config.get_optional_string_array("events.http.topics") or []:
            # a module's registration keeps its validator
            ingresses.setdefault(topic, HttpPostIngressOptions(topic=topic))
        store = await _open_store(database, logger)
        lifecycle.add_shutdown_hook(store.close)
        watch = _StopWatch(health, store.waiters())
        watch.start()
        lifecycle.add_shutdown_hook(watch.stop)

        async def cleanup(_aborted: asyncio.Event) -> None:
            await store.cleanup()

        await scheduler.schedule_task(
            id="event-bus-cleanup",
            fn=cleanup,
            frequency=_CLEANUP_EVERY,
            timeout=timedelta(minutes=1),
            scope="local",
        )
        router.use(
            *ingress_routes(ingresses, api.parsers, events),
            *bus_routes(store, http_auth, _notify_timeout_ms(config)),
        )
        router.add_auth_policy(path="/http", allow="unauthenticated")
        for topic in sorted(ingresses):
            logger.info(f"Webhooks accepted at /http/{topic}")

    env.register_init(init)


def events_plugin() -> BackendPlugin:
    """The events plugin, mounted at `/api/events`."""
    return create_backend_plugin(plugin_id=PLUGIN_ID, register=_register)
