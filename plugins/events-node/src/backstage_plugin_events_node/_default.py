"""The default `events.service`: local delivery plus the events plugin's bus."""

from __future__ import annotations

from collections.abc import Sequence

from backstage_backend_plugin_api import RootConfigService, ServiceFactory, create_service_factory
from backstage_backend_plugin_api import core_services as core
from backstage_common.errors import InputError

from backstage_plugin_events_node._bus_client import BusMode, EventBusClient
from backstage_plugin_events_node._local import LocalEventBus
from backstage_plugin_events_node._service import EventsService, events_service_ref
from backstage_plugin_events_node._types import EventParams, EventSubscriber

__all__ = ["DefaultEventsService", "events_service_factory", "read_bus_mode"]

_MODES: tuple[BusMode, ...] = ("auto", "never", "always")


class DefaultEventsService:
    """A plugin's events service: subscribers of this backend are called directly, and the
    bus (when there is one) carries events to the other backends and replicas.

    Args:
        local: the backend's local subscribers, shared by its plugins.
        plugin_id: the plugin this service belongs to.
        bus: the plugin's bus client; None: this backend only (tests, `never`).
    """

    def __init__(
        self, *, local: LocalEventBus, plugin_id: str, bus: EventBusClient | None = None
    ) -> None:
        self._local = local
        self._plugin_id = plugin_id
        self._bus = bus

    async def publish(self, params: EventParams) -> None:
        """See `EventsService.publish`."""
        notified = await self._local.publish(params)
        if self._bus is not None:
            await self._bus.publish(params, notified)

    async def subscribe(self, *, id: str, topics: Sequence[str], on_event: EventSubscriber) -> None:
        """See `EventsService.subscribe`."""
        if not id or not topics:
            raise InputError("An events subscription needs an id and at least one topic")
        self._local.subscribe(f"{self._plugin_id}.{id}", topics, on_event)
        if self._bus is not None:
            self._bus.subscribe(id, topics, on_event)


def read_bus_mode(config: RootConfigService) -> BusMode:
    """`events.useEventBus`: `auto` (the default), `never` or `always`.

    Args:
        config: the root config.
    """
    mode = config.get_optional_string("events.useEventBus") or "auto"
    if mode not in _MODES:
        raise InputError(f"Invalid events.useEventBus '{mode}': use one of {', '.join(_MODES)}")
    return mode


def _root_context(logger: core.RootLogger) -> LocalEventBus:
    return LocalEventBus(logger.child({"service": "events"}))


def _factory(
    local: LocalEventBus,
    config: core.RootConfig,
    logger: core.Logger,
    discovery: core.Discovery,
    auth: core.Auth,
    metadata: core.PluginMetadata,
    lifecycle: core.Lifecycle,
) -> EventsService:
    plugin_id = metadata.get_id()
    mode = read_bus_mode(config)
    bus: EventBusClient | None = None
    if mode != "never":
        bus = EventBusClient(
            plugin_id=plugin_id, mode=mode, discovery=discovery, auth=auth, logger=logger
        )
        lifecycle.add_shutdown_hook(bus.close)
    return DefaultEventsService(local=local, plugin_id=plugin_id, bus=bus)


events_service_factory: ServiceFactory[EventsService] = create_service_factory(
    service=events_service_ref, factory=_factory, create_root_context=_root_context
)
"""The default factory of `events_service_ref`."""

# the ref must exist before its factory, and the factory is the ref's default: set it once,
# here, on the frozen ref
object.__setattr__(events_service_ref, "default_factory", events_service_factory)
