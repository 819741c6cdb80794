"""Republishes `gitlab` webhooks as `gitlab.<object_kind>` (or `event_name`)."""

from __future__ import annotations

from backstage_plugin_events_node import EventParams

from backstage_plugin_events_backend._sub_topic_router import SubTopicEventRouter

__all__ = ["GitlabEventRouter"]


class GitlabEventRouter(SubTopicEventRouter):
    """Subscriber `GitlabEventRouter` of topic `gitlab`: the sub-topic is the payload's
    `object_kind`, else its `event_name` (system hooks); an event with neither is dropped.

    Args:
        events: the events service to subscribe on and republish to.
    """

    topic = "gitlab"
    subscriber_id = "GitlabEventRouter"

    def sub_topic(self, params: EventParams) -> str | None:
        """The payload's `object_kind`, else its `event_name`.

        Args:
            params: the `gitlab` event.
        """
        payload = params.event_payload
        if not isinstance(payload, dict):
            return None
        for key in ("object_kind", "event_name"):
            value = payload.get(key)
            if isinstance(value, str) and value:
                return value
        return None
