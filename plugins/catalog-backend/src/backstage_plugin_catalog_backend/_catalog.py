"""Assembling the catalog from config and what modules added: the processing loop on the
background pool; the services the routes call, and the location store, on the request pool.
A serving worker (`backend.worker.role: serve`) starts neither the loop nor the providers.

The wiring runs one way: providers and services wake the loop; the loop knows neither."""

from __future__ import annotations

from dataclasses import dataclass, field

from backstage_backend_plugin_api import (
    CacheService,
    DatabaseService,
    HttpAuthService,
    LoggerService,
    UrlReaderService,
)
from backstage_common.config import Config
from backstage_common.durations import parse_duration
from backstage_common.errors import InputError
from backstage_common.worker_role import read_worker_role
from backstage_plugin_catalog_node import (
    CatalogProcessor,
    EntityProvider,
    LocationAnalyzer,
    UrlReader,
)
from litestar.handlers import HTTPRouteHandler
from sqlalchemy.ext.asyncio import AsyncEngine

from backstage_plugin_catalog_backend._wakeups import WakeListener, WakeNotifier
from backstage_plugin_catalog_backend.api import (
    DefaultLocationAnalyzer,
    LocationRoutesOptions,
    location_routes,
    processing_routes,
)
from backstage_plugin_catalog_backend.permissions import CatalogPermissions
from backstage_plugin_catalog_backend.processing import (
    AnnotateLocationProcessor,
    BuiltinKindsProcessor,
    CatalogRules,
    FileReaderProcessor,
    Orchestrator,
    PlaceholderProcessor,
    ProcessingLoop,
    ProcessingOptions,
    UrlReaderProcessor,
)
from backstage_plugin_catalog_backend.providers import (
    ConfigLocationProvider,
    LocationStore,
    ProviderDatabase,
    connect_providers,
)
from backstage_plugin_catalog_backend.readers import UrlReaders
from backstage_plugin_catalog_backend.service import LocationService, RefreshService

__all__ = ["Catalog", "CatalogExtensions", "build_catalog"]


@dataclass
class CatalogExtensions:
    """What modules add through the catalog's extension points."""

    processors: list[CatalogProcessor] = field(default_factory=list)
    providers: list[EntityProvider] = field(default_factory=list)
    readers: list[UrlReader] = field(default_factory=list)
    analyzer: LocationAnalyzer | None = None
    catalog: Catalog | None = None
    """The running catalog, once the plugin has initialised."""

    def add_processor(self, *processors: CatalogProcessor) -> None:
        self.processors.extend(processors)

    def add_entity_provider(self, *providers: EntityProvider) -> None:
        self.providers.extend(providers)

    def add_reader(self, *readers: UrlReader) -> None:
        self.readers.extend(readers)

    def set_location_analyzer(self, analyzer: LocationAnalyzer) -> None:
        self.analyzer = analyzer


@dataclass
class Catalog:
    processing: ProcessingLoop
    providers: ProviderDatabase
    """Where the entity providers write, on the background pool."""
    installed: list[EntityProvider]
    evict_uninstalled: bool
    locations: LocationService
    routes: list[HTTPRouteHandler]
    logger: LoggerService
    background_work: bool = True
    """False in a serving worker (`backend.worker.role: serve`): another process of the
    unit, or another unit, connects the providers and runs the processing loop."""

    processing_started: bool = False
    """Whether this process connected the providers and started the processing loop."""
    notifier: WakeNotifier | None = None
    """How a serving worker's writes wake the processing process (Postgres)."""
    listener: WakeListener | None = None
    """How a processing process hears of them (Postgres, role background)."""

    async def start(self) -> None:
        if not self.background_work:
            # Reads never share this event loop with processing. Writes through the API
            # set due times in the database and notify the processing process.
            self.logger.info(
                "Catalog processing, stitching and orphan cleanup are off in this process "
                "(backend.worker.role: serve)"
            )
            return
        await connect_providers(
            self.providers, self.installed, evict_uninstalled=self.evict_uninstalled
        )
        await self.processing.start()
        self.processing_started = True
        if self.listener is not None:
            self.listener.start()

    async def stop(self) -> None:
        if self.listener is not None:
            await self.listener.stop()
        if self.notifier is not None:
            await self.notifier.close()
        await self.processing.stop()


def _interval(config: Config) -> tuple[float, float] | None:
    value = config.get_optional("catalog.processingInterval")
    if value is None:
        return (100.0, 150.0)
    if value is False:
        return None
    seconds = parse_duration(value, key="catalog.processingInterval").total_seconds()
    if seconds <= 0:
        raise InputError("catalog.processingInterval must be a positive duration or false")
    return (seconds, seconds * 1.5)


_STITCH_TIMEOUT = 60.0


def _seconds(config: Config, key: str) -> float | None:
    value = config.get_optional(key)
    if value is None:
        return None
    seconds = parse_duration(value, key=key).total_seconds()
    if seconds <= 0:
        raise InputError(f"{key} must be a positive duration")
    return seconds


def _stitching(config: Config, interval: tuple[float, float] | None) -> tuple[float, float]:
    """`catalog.stitchingStrategy`: the poll and the stitch timeout, in seconds. The timeout
    defaults to Backstage's 60 s, or to the processing interval when that is shorter, so
    that stitches a crashed replica held are taken up within two processing intervals."""
    mode = config.get_optional_string("catalog.stitchingStrategy.mode")
    if mode not in (None, "deferred"):
        raise InputError("catalog.stitchingStrategy.mode must be deferred")
    poll = _seconds(config, "catalog.stitchingStrategy.pollingInterval") or 1.0
    timeout = _seconds(config, "catalog.stitchingStrategy.stitchTimeout")
    if timeout is None:
        timeout = min(_STITCH_TIMEOUT, interval[0]) if interval else _STITCH_TIMEOUT
    return poll, timeout


def _processing_options(config: Config) -> ProcessingOptions:
    strategy = config.get_optional_string("catalog.orphanStrategy") or "delete"
    if strategy not in ("delete", "keep"):
        raise InputError("catalog.orphanStrategy must be delete or keep")
    interval = _interval(config)
    poll, stitch_timeout = _stitching(config, interval)
    return ProcessingOptions(
        interval=interval,
        poll_seconds=poll,
        stitch_timeout=stitch_timeout,
        orphan_strategy="keep" if strategy == "keep" else "delete",
    )


def _evict_uninstalled(config: Config) -> bool:
    """`catalog.orphanProviderStrategy`: `delete` removes, at start, what providers that
    are no longer installed emitted."""
    strategy = config.get_optional_string("catalog.orphanProviderStrategy") or "delete"
    if strategy not in ("delete", "keep"):
        raise InputError("catalog.orphanProviderStrategy must be delete or keep")
    return strategy == "delete"


def build_catalog(
    config: Config,
    database: DatabaseService,
    background: AsyncEngine,
    logger: LoggerService,
    extensions: CatalogExtensions,
    permissions: CatalogPermissions,
    http_auth: HttpAuthService,
    url_reader: UrlReaderService,
    cache: CacheService,
) -> Catalog:
    """The catalog: the routes' services and the location store write on the request
    pool, the processing loop (`background` is its engine) and the other entity providers
    on the background pool; every transaction comes from `database`. The services act for
    the caller of each request (`http_auth`) as its `permissions` allow."""
    readers = UrlReaders(extensions.readers, url_reader)
    processors: list[CatalogProcessor] = [PlaceholderProcessor(readers), BuiltinKindsProcessor()]
    if not config.get_optional_boolean("catalog.disableDefaultProcessors"):
        processors += [
            FileReaderProcessor(),
            UrlReaderProcessor(readers, cache),
            AnnotateLocationProcessor(),
        ]
    processors += extensions.processors
    orchestrator = Orchestrator(processors, CatalogRules.from_config(config))
    evict_uninstalled = _evict_uninstalled(config)
    processing = ProcessingLoop(
        database, background, orchestrator, logger, _processing_options(config)
    )
    role = read_worker_role(config)
    on_postgres = background.dialect.name == "postgresql"
    notifier = WakeNotifier(database, logger) if role == "serve" and on_postgres else None
    listener = (
        WakeListener(database, processing.wake, logger)
        if role == "background" and on_postgres
        else None
    )
    changed = processing.wake if notifier is None else notifier.notify
    store = LocationStore(ProviderDatabase(database, "requests", logger, changed))
    installed: list[EntityProvider] = [store, ConfigLocationProvider(config), *extensions.providers]
    refresh = RefreshService(database, changed, permissions)
    locations = LocationService(store, refresh, orchestrator, permissions)
    options = LocationRoutesOptions(
        readonly=bool(config.get_optional_boolean("catalog.readonly")),
        refresh_on_conflict=config.get_optional_string("catalog.defaultLocationConflictStrategy")
        == "refresh",
    )
    analyzer = extensions.analyzer or DefaultLocationAnalyzer()
    routes = [
        *location_routes(locations, options, http_auth),
        *processing_routes(refresh, orchestrator, analyzer, permissions, http_auth),
    ]
    return Catalog(
        processing,
        ProviderDatabase(database, "background", logger, processing.wake),
        installed,
        evict_uninstalled,
        locations,
        routes,
        logger,
        role != "serve",
        notifier=notifier,
        listener=listener,
    )
