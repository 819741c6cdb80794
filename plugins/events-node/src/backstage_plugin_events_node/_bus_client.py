"""The events plugin's bus over HTTP (`/api/events/bus/v1`), as a plugin calls it."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Sequence
from typing import Any, Literal

import httpx
import msgspec
from backstage_backend_plugin_api import AuthService, DiscoveryService, LoggerService
from backstage_common.tls import client_ssl_context

from backstage_plugin_events_node._types import EventParams, EventSubscriber

__all__ = ["NOTIFY_TIMEOUT_HEADER", "BusMode", "EventBusClient"]

BusMode = Literal["auto", "never", "always"]
NOTIFY_TIMEOUT_HEADER = "backstage-events-notify-timeout"
EVENTS_PLUGIN_ID = "events"
_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
_MIN_BACKOFF = 1.0
_MAX_BACKOFF = 60.0
_DEFAULT_NOTIFY_TIMEOUT_MS = 55_000


class _BusMissing(Exception):
    """The events plugin answered 404: no bus there (mode `auto` then stops using it)."""


class EventBusClient:
    """One plugin's client of the bus: publishes and keeps a polling loop per subscription.

    Args:
        plugin_id: the calling plugin, the prefix of its subscription ids.
        mode: `events.useEventBus`.
        discovery: finds the events plugin.
        auth: service tokens for it (`aud=events`).
        logger: the plugin's logger.
    """

    def __init__(
        self,
        *,
        plugin_id: str,
        mode: BusMode,
        discovery: DiscoveryService,
        auth: AuthService,
        logger: LoggerService,
    ) -> None:
        self._plugin_id = plugin_id
        self._mode = mode
        self._discovery = discovery
        self._auth = auth
        self._logger = logger
        self._client: httpx.AsyncClient | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._disabled = mode == "never"
        self._closed = False

    @property
    def enabled(self) -> bool:
        """False once the bus is known to be absent (or `never` is configured)."""
        return not self._disabled and not self._closed

    async def publish(self, params: EventParams, notified: Sequence[str]) -> None:
        """Hand the event to the bus for the subscriptions not in `notified`."""
        if not self.enabled:
            return
        body = {
            "event": {"topic": params.topic, "payload": params.event_payload},
            "notifiedSubscribers": list(notified),
        }
        try:
            response = await self._request("POST", "/bus/v1/events", body)
            if response.status_code == 404:
                raise _BusMissing
            response.raise_for_status()
        except _BusMissing:
            self._disable("publishing")
        except (httpx.HTTPError, OSError) as error:
            self._logger.warn(
                f"Failed to publish an event of topic '{params.topic}' to the event bus",
                {"error": repr(error)},
            )

    def subscribe(
        self, subscriber_id: str, topics: Sequence[str], on_event: EventSubscriber
    ) -> None:
        """Start polling the bus for `<pluginId>.<subscriber_id>`."""
        if not self.enabled:
            return
        task = asyncio.get_running_loop().create_task(
            self._poll(f"{self._plugin_id}.{subscriber_id}", list(topics), on_event),
            name=f"events-bus-poll:{self._plugin_id}.{subscriber_id}",
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Stop polling and close the HTTP client."""
        self._closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    def _disable(self, doing: str) -> None:
        if self._mode == "always":
            self._logger.warn(f"The event bus answered 404 while {doing}; retrying (mode always)")
            return
        if not self._disabled:
            self._logger.warn(
                f"The events plugin has no event bus (404 while {doing}): events of plugin "
                f"'{self._plugin_id}' are delivered inside this backend only"
            )
        self._disabled = True

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(verify=client_ssl_context(), timeout=_TIMEOUT)
        return self._client

    async def _headers(self) -> dict[str, str]:
        own = await self._auth.get_own_service_credentials()
        token = await self._auth.get_plugin_request_token(
            on_behalf_of=own, target_plugin_id=EVENTS_PLUGIN_ID
        )
        return {"authorization": f"Bearer {token.token}"}

    async def _url(self, path: str) -> str:
        return (await self._discovery.get_base_url(EVENTS_PLUGIN_ID)) + path

    async def _request(self, method: str, path: str, body: Any) -> httpx.Response:
        return await self._http().request(
            method,
            await self._url(path),
            content=msgspec.json.encode(body),
            headers={**await self._headers(), "content-type": "application/json"},
        )

    async def _ensure_subscription(self, subscription_id: str, topics: list[str]) -> None:
        response = await self._request(
            "PUT", f"/bus/v1/subscriptions/{subscription_id}", {"topics": topics}
        )
        if response.status_code == 404:
            raise _BusMissing
        response.raise_for_status()

    async def _poll(
        self, subscription_id: str, topics: list[str], on_event: EventSubscriber
    ) -> None:
        backoff = _MIN_BACKOFF
        subscribed = False
        while self.enabled:
            try:
                if not subscribed:
                    await self._ensure_subscription(subscription_id, topics)
                    subscribed = True
                subscribed = await self._read_once(subscription_id, on_event)
                backoff = _MIN_BACKOFF
            except asyncio.CancelledError:
                raise
            except _BusMissing:
                self._disable("subscribing")
                if self._mode == "always":
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, _MAX_BACKOFF)
            except Exception as error:  # the loop must outlive any failure of the bus
                # a 503 is a unit starting or stopping: expected, so not worth a warning
                unavailable = (
                    isinstance(error, httpx.HTTPStatusError) and error.response.status_code == 503
                )
                log = self._logger.debug if unavailable else self._logger.warn
                log(
                    f"Polling the event bus for '{subscription_id}' failed; retrying in "
                    f"{backoff:g}s",
                    {"error": repr(error)},
                )
                await asyncio.sleep(backoff * (1 + random.random() / 10))
                backoff = min(backoff * 2, _MAX_BACKOFF)

    async def _read_once(self, subscription_id: str, on_event: EventSubscriber) -> bool:
        """One GET; False when the subscription must be made again (404)."""
        url = await self._url(f"/bus/v1/subscriptions/{subscription_id}/events")
        # the long poll's body stays open up to the notify timeout: no read timeout on it
        timeout = httpx.Timeout(30.0, connect=5.0, read=None)
        async with self._http().stream(
            "GET", url, headers=await self._headers(), timeout=timeout
        ) as response:
            if response.status_code == 404:
                return False
            if response.status_code == 202:
                await self._await_notification(response)
                return True
            response.raise_for_status()
            data = msgspec.json.decode(await response.aread())
        for event in data.get("events", []):
            params = EventParams(topic=event["topic"], event_payload=event.get("payload"))
            try:
                await on_event(params)
            except Exception as error:  # one bad event must not stop the subscription
                self._logger.warn(
                    f"Subscriber '{subscription_id}' failed to handle an event of topic "
                    f"'{params.topic}'",
                    {"error": repr(error)},
                )
        return True

    async def _await_notification(self, response: httpx.Response) -> None:
        try:
            timeout_ms = float(
                response.headers.get(NOTIFY_TIMEOUT_HEADER, _DEFAULT_NOTIFY_TIMEOUT_MS)
            )
        except ValueError:
            timeout_ms = _DEFAULT_NOTIFY_TIMEOUT_MS
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_ms / 1000 + 1):
                await response.aread()
