"""Republishes `github` webhooks as `github.<X-GitHub-Event>`."""

from __future__ import annotations

from backstage_plugin_events_node import EventParams

from backstage_plugin_events_backend._sub_topic_router import SubTopicEventRouter

__all__ = ["GithubEventRouter"]


class GithubEventRouter(SubTopicEventRouter):
    """Subscriber `GithubEventRouter` of topic `github`: the sub-topic is the request's
    `x-github-event` header; an event without one is dropped. Headers travel only inside
    the backend that received the webhook, so routing happens there.

    Args:
        events: the events service to subscribe on and republish to.
    """

    topic = "github"
    subscriber_id = "GithubEventRouter"

    def sub_topic(self, params: EventParams) -> str | None:
        """The `x-github-event` header.

        Args:
            params: the `github` event.
        """
        kind = (params.metadata or {}).get("x-github-event")
        return kind if isinstance(kind, str) and kind else None
