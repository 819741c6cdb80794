"""Republishes `gitlab` webhooks as `gitlab.<object_kind>` (or `event_name`)."""

from __future__ import annotations

from typing import Any

from backstage_plugin_events_node import EventParams, EventsService

__all__ = ["GitlabEventRouter"]

_TOPIC = "gitlab"


def _sub_topic(payload: Any) -> str | None:
    if not isinstance(payload, dict):
        return None
    for key in ("object_kind", "event_name"):
        value = payload.get(key)
        if isinstance(value, str) and value:
            return value
    return None


class GitlabEventRouter:
    """Subscriber `GitlabEventRouter` of topic `gitlab`: the sub-topic is the payload's
    `object_kind`, else its `event_name` (system hooks); an event with neither is dropped.

    Args:
        events: the events service to subscribe on and republish to.
    """

    subscriber_id = "GitlabEventRouter"

    def __init__(self, events: EventsService) -> None:
        self._events = events

    async def subscribe(self) -> None:
        """Start routing."""
        await self._events.subscribe(id=self.subscriber_id, topics=[_TOPIC], on_event=self.on_event)

    async def on_event(self, params: EventParams) -> None:
        """Republish one event under its sub-topic."""
        kind = _sub_topic(params.event_payload)
        if kind is None:
            return
        await self._events.publish(
            EventParams(
                topic=f"{_TOPIC}.{kind}",
                event_payload=params.event_payload,
                metadata=params.metadata,
            )
        )
