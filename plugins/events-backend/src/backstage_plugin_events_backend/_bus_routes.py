"""The bus API (`/bus/v1`), for service principals: other plugins' events services
publish, subscribe and long-poll here."""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
from collections.abc import AsyncIterator
from typing import Any

import msgspec
from backstage_backend_plugin_api import BackstageServicePrincipal, HttpAuthService, is_principal
from backstage_common.errors import InputError, NotAllowedError
from backstage_plugin_events_node import NOTIFY_TIMEOUT_HEADER
from litestar import Request, Response, get, post, put
from litestar.params import FromPath
from litestar.response import Stream
from litestar.types import ControllerRouterHandler

from backstage_plugin_events_backend._store import EventBusStore

__all__ = ["bus_routes"]

_BODY_LIMIT = 5 * 1024 * 1024
_SUBSCRIPTION_ID = re.compile(r"^[A-Za-z0-9_.:@-]{1,255}$")


class _Event(msgspec.Struct, forbid_unknown_fields=True):
    topic: str
    payload: Any = None


class _PublishBody(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    event: _Event
    notified_subscribers: list[str] = msgspec.field(default_factory=list)


class _SubscriptionBody(msgspec.Struct, forbid_unknown_fields=True):
    topics: list[str]


def _decode(raw: bytes, kind: type[Any]) -> Any:
    try:
        return msgspec.json.decode(raw, type=kind)
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        raise InputError(f"Invalid request body: {error}") from None


def _subscription_id(value: str) -> str:
    if not _SUBSCRIPTION_ID.match(value):
        raise InputError(f"Invalid subscription id '{value}'")
    return value


def bus_routes(
    store: EventBusStore, http_auth: HttpAuthService, notify_timeout_ms: int
) -> list[ControllerRouterHandler]:
    """The handlers of `/api/events/bus/v1`."""

    async def caller(request: Request[Any, Any, Any]) -> str:
        credentials = await http_auth.credentials(request, allow=["service"])
        if not is_principal(credentials, BackstageServicePrincipal):
            raise NotAllowedError("Only services may use the event bus")
        return f"service={credentials.principal.subject}"

    @post("/bus/v1/events", request_max_body_size=_BODY_LIMIT)
    async def publish(request: Request[Any, Any, Any]) -> Response[None]:
        created_by = await caller(request)
        body: _PublishBody = _decode(await request.body(), _PublishBody)
        if not body.event.topic:
            raise InputError("The event needs a topic")
        stored = await store.publish(
            topic=body.event.topic,
            payload=body.event.payload,
            notified_subscribers=body.notified_subscribers,
            created_by=created_by,
        )
        return Response(None, status_code=201 if stored else 204)

    @put("/bus/v1/subscriptions/{subscription_id:str}", request_max_body_size=_BODY_LIMIT)
    async def subscribe(
        request: Request[Any, Any, Any], subscription_id: FromPath[str]
    ) -> Response[None]:
        created_by = await caller(request)
        body: _SubscriptionBody = _decode(await request.body(), _SubscriptionBody)
        if not body.topics or not all(body.topics):
            raise InputError("A subscription needs at least one non-empty topic")
        await store.upsert_subscription(
            id=_subscription_id(subscription_id), topics=body.topics, created_by=created_by
        )
        return Response(None, status_code=201)

    @get("/bus/v1/subscriptions/{subscription_id:str}/events")
    async def read(
        request: Request[Any, Any, Any], subscription_id: FromPath[str]
    ) -> Response[Any]:
        await caller(request)
        subscription_id = _subscription_id(subscription_id)
        waiters = store.waiters()
        # waiting starts before the read, so a publish between the two is not missed
        wake = waiters.register(await store.topics_of(subscription_id))
        try:
            events = await store.read_subscription(subscription_id)
        except BaseException:
            waiters.release(wake)
            raise
        if events:
            waiters.release(wake)
            body = {"events": [{"topic": e.topic, "payload": e.payload} for e in events]}
            return Response(body, status_code=200)

        async def held_open() -> AsyncIterator[bytes]:
            try:
                # an empty first chunk makes every layer send the status and headers now
                yield b""
                timeout = notify_timeout_ms / 1000 + random.uniform(0.001, 0.01)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):
                        await wake.wait()
                yield b""
            finally:
                waiters.release(wake)

        return Stream(
            held_open(),
            status_code=202,
            headers={NOTIFY_TIMEOUT_HEADER: str(notify_timeout_ms)},
        )

    return [publish, subscribe, read]
