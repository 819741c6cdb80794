"""`events.api`: how modules open HTTP ingress topics and add body parsers."""

from __future__ import annotations

from typing import Annotated, Protocol, TypeAlias

from backstage_backend_plugin_api import ExtensionPoint, create_extension_point

from backstage_plugin_events_node._types import HttpBodyParser, HttpPostIngressOptions

__all__ = ["EventsApi", "EventsExtensionPoint", "events_extension_point"]


class EventsExtensionPoint(Protocol):
    """Offered by the events plugin to its modules."""

    def add_http_post_ingress(self, options: HttpPostIngressOptions) -> None:
        """Accept webhooks at `POST /api/events/http/<topic>`; the last registration of a
        topic wins, and `events.http.topics` never replaces a module's validator.

        Args:
            options: the topic and its validator.
        """
        ...

    def add_http_post_body_parser(self, content_type: str, parser: HttpBodyParser) -> None:
        """Parse bodies of another media type than `application/json`.

        Args:
            content_type: the media type, without parameters, e.g. `text/plain`.
            parser: the parser.
        """
        ...


events_extension_point: ExtensionPoint[EventsExtensionPoint] = create_extension_point(
    id="events.api"
)

EventsApi: TypeAlias = Annotated[EventsExtensionPoint, events_extension_point]
"""Injectable alias for modules of the events plugin: `async def init(api: EventsApi)`."""
