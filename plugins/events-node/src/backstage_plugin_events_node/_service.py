"""`events.service`: what plugins publish events to and subscribe on."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Protocol, TypeAlias

from backstage_backend_plugin_api import ServiceRef, create_service_ref

from backstage_plugin_events_node._types import EventParams, EventSubscriber

__all__ = ["Events", "EventsService", "events_service_ref"]


class EventsService(Protocol):
    """Publishes events and delivers them to subscribers: in this backend directly, in
    other backends (and other replicas) through the events plugin's bus."""

    async def publish(self, params: EventParams) -> None:
        """Deliver an event to every subscriber of its topic.

        Subscribers in this backend are called first (and awaited; their errors are
        logged, never raised); the event then goes to the bus for the subscriptions not
        called yet. The bus keeps no metadata.

        Args:
            params: the event.
        """
        ...

    async def subscribe(self, *, id: str, topics: Sequence[str], on_event: EventSubscriber) -> None:
        """Call `on_event` with every event of `topics`, at least once per subscription.

        The subscription is `<pluginId>.<id>`: every replica of the plugin subscribes
        under the same one, and each event published elsewhere reaches one of them.

        Args:
            id: the subscriber's id, unique within the plugin.
            topics: the topics, matched exactly.
            on_event: called with each event; an error it raises is logged.
        """
        ...


events_service_ref: ServiceRef[EventsService] = create_service_ref(id="events.service")
"""The events service ref: plugin scoped; its default factory (set by the package on
import) is `DefaultEventsService`, the client of the events plugin."""

Events: TypeAlias = Annotated[EventsService, events_service_ref]
"""Injectable alias: `async def init(events: Events) -> None`."""
