"""Events and HTTP ingress: the values publishers, subscribers and validators exchange."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = [
    "EventParams",
    "EventSubscriber",
    "HttpBodyParser",
    "HttpPostIngressOptions",
    "ParsedBody",
    "RawBody",
    "RequestDetails",
    "RequestRejectionDetails",
    "RequestValidationContext",
    "RequestValidator",
]

MetadataValue = str | Sequence[str]


@dataclass(frozen=True)
class EventParams:
    """One event.

    Args:
        topic: what the event is about, e.g. `github` or `github.push`.
        event_payload: the event itself (for webhooks, the parsed request body).
        metadata: for webhooks, the request headers (lower-case names); events read from
            the bus across backends carry none, as in Backstage.
    """

    topic: str
    event_payload: Any
    metadata: Mapping[str, MetadataValue] | None = None


EventSubscriber = Callable[[EventParams], Awaitable[None]]
"""What `EventsService.subscribe` calls with each event of its topics."""


@dataclass(frozen=True)
class RawBody:
    """A request body as received.

    Args:
        body: the bytes.
        encoding: the `charset` of its `Content-Type` (`utf-8` when not given).
    """

    body: bytes
    encoding: str


@dataclass(frozen=True)
class ParsedBody:
    """What a body parser made of a request body.

    Args:
        body_parsed: the parsed body, published as the event payload.
        body_buffer: the raw bytes, given to validators.
        encoding: the charset they were decoded with.
    """

    body_parsed: Any
    body_buffer: bytes
    encoding: str


HttpBodyParser = Callable[[bytes, str, str | None], Awaitable[ParsedBody]]
"""Parses a body: called with the raw bytes, the media type and the `charset` parameter (or
None). Raise a `BackstageError` (or an error with `status_code`) to refuse it."""


@dataclass(frozen=True)
class RequestDetails:
    """A webhook request, as a validator sees it.

    Args:
        body: the parsed body.
        headers: the request headers, lower-case names; a repeated header is a list.
        raw: the body's bytes and charset, for signature checks.
    """

    body: Any
    headers: Mapping[str, MetadataValue]
    raw: RawBody


@dataclass(frozen=True)
class RequestRejectionDetails:
    """Why a validator refused a request, and what to answer.

    Args:
        status: the HTTP status to answer with (403 by default, as Backstage).
        payload: the JSON body to answer with.
    """

    status: int = 403
    payload: Mapping[str, Any] = field(default_factory=dict)


class RequestValidationContext(Protocol):
    """Given to a validator: it calls `reject` to refuse the request."""

    def reject(self, details: RequestRejectionDetails | None = None) -> None:
        """Refuse the request (403 `{}` without details); nothing is published.

        Args:
            details: the status and body to answer with.
        """
        ...


RequestValidator = Callable[[RequestDetails, RequestValidationContext], Awaitable[None]]
"""Checks a webhook request before it is published (a signature, a token)."""


@dataclass(frozen=True)
class HttpPostIngressOptions:
    """A topic that `POST /api/events/http/<topic>` accepts.

    Args:
        topic: the topic, also the last path segment.
        validator: checks each request first; without one every request is accepted.
    """

    topic: str
    validator: RequestValidator | None = None
