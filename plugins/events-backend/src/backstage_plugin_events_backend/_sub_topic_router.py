"""Republishing of one topic's events under a sub-topic each event names, as Backstage's
`SubTopicEventRouter` does."""

from __future__ import annotations

from abc import ABC, abstractmethod

from backstage_plugin_events_node import EventParams, EventsService

__all__ = ["SubTopicEventRouter"]


class SubTopicEventRouter(ABC):
    """Subscriber `subscriber_id` of `topic`: republishes each event as
    `<topic>.<sub-topic>`, with its payload and metadata; an event without a sub-topic is
    dropped.

    Args:
        events: the events service to subscribe on and republish to.
    """

    topic: str
    subscriber_id: str

    def __init__(self, events: EventsService) -> None:
        self._events = events

    @abstractmethod
    def sub_topic(self, params: EventParams) -> str | None:
        """The event's sub-topic, or None to drop it.

        Args:
            params: the event as received on `topic`.
        """

    async def subscribe(self) -> None:
        """Start routing."""
        await self._events.subscribe(
            id=self.subscriber_id, topics=[self.topic], on_event=self.on_event
        )

    async def on_event(self, params: EventParams) -> None:
        """Republish one event under its sub-topic.

        Args:
            params: the event as received on `topic`.
        """
        kind = self.sub_topic(params)
        if kind is None:
            return
        await self._events.publish(
            EventParams(
                topic=f"{self.topic}.{kind}",
                event_payload=params.event_payload,
                metadata=params.metadata,
            )
        )
