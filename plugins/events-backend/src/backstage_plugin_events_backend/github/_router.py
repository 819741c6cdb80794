"""Republishes `github` webhooks as `github.<X-GitHub-Event>`."""

from __future__ import annotations

from backstage_plugin_events_node import EventParams, EventsService

__all__ = ["GithubEventRouter"]

_TOPIC = "github"


class GithubEventRouter:
    """Subscriber `GithubEventRouter` of topic `github`: the sub-topic is the request's
    `x-github-event` header; an event without one is dropped. Headers travel only inside
    the backend that received the webhook, so routing happens there.

    Args:
        events: the events service to subscribe on and republish to.
    """

    subscriber_id = "GithubEventRouter"

    def __init__(self, events: EventsService) -> None:
        self._events = events

    async def subscribe(self) -> None:
        """Start routing."""
        await self._events.subscribe(id=self.subscriber_id, topics=[_TOPIC], on_event=self.on_event)

    async def on_event(self, params: EventParams) -> None:
        """Republish one event under its sub-topic."""
        kind = (params.metadata or {}).get("x-github-event")
        if not isinstance(kind, str) or not kind:
            return
        await self._events.publish(
            EventParams(
                topic=f"{_TOPIC}.{kind}",
                event_payload=params.event_payload,
                metadata=params.metadata,
            )
        )
