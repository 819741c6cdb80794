"""The HTTP side every reader shares: conditional headers, bounded bodies, status mapping,
and waiting out rate limits.

A 403 with `X-RateLimit-Remaining: 0`, or a 429, closes the host until `Retry-After` (or
`X-RateLimit-Reset` plus a second) has passed: the request waits and is sent again (twice
at most), and every other request for that host waits too instead of hitting the limit
again. A wait longer than `max_wait` is not waited: the read fails at once with
`ServiceUnavailableError` "(rate limit exceeded)", so a catalog pass moves on. The limit is
logged once per host and window, not once per request.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import httpx
import msgspec
from backstage_backend_plugin_api import LoggerService
from backstage_common.errors import (
    NotAllowedError,
    NotFoundError,
    NotModifiedError,
    ServiceUnavailableError,
)

__all__ = ["Fetched", "ReaderHttp", "conditional_headers"]

_RETRIES = 2
_MAX_REDIRECTS = 5
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_RESET_MARGIN = 1.0


@dataclass(frozen=True, slots=True)
class Fetched:
    data: bytes
    etag: str | None
    last_modified_at: datetime | None
    headers: httpx.Headers
    status: int = 200


def conditional_headers(etag: str | None, last_modified_after: datetime | None) -> dict[str, str]:
    """`If-None-Match` and `If-Modified-Since` (RFC 1123, UTC) for what the caller holds."""
    headers: dict[str, str] = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified_after is not None:
        moment = last_modified_after.astimezone(UTC)
        headers["If-Modified-Since"] = format_datetime(moment, usegmt=True)
    return headers


def _last_modified(headers: httpx.Headers) -> datetime | None:
    value = headers.get("last-modified")
    if not value:
        return None
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None


def _rate_limit_wait(response: httpx.Response, now: float) -> float | None:
    """Seconds to wait when `response` is a rate limit, else None."""
    headers = response.headers
    limited = response.status_code == 429 or (
        response.status_code == 403 and headers.get("x-ratelimit-remaining") == "0"
    )
    if not limited:
        return None
    retry_after = headers.get("retry-after")
    if retry_after:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            try:
                return max(0.0, parsedate_to_datetime(retry_after).timestamp() - now)
            except (TypeError, ValueError):
                pass
    reset = headers.get("x-ratelimit-reset")
    if reset and reset.isdigit():
        return max(0.0, int(reset) - now + _RESET_MARGIN)
    return 60.0


class ReaderHttp:
    """GETs for the readers through one shared client.

    Args:
        client: the HTTP client.
        logger: where rate limits are reported.
        max_wait: the longest rate-limit wait, in seconds, before a read gives up.
        max_bytes: the largest body read.
        clock: seconds since the epoch.
        sleep: how to wait (tests pass a fake).
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        logger: LoggerService,
        *,
        max_wait: float = 60.0,
        max_bytes: int = 256 * 1024 * 1024,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.client = client
        self._logger = logger
        self._max_wait = max_wait
        self._max_bytes = max_bytes
        self._clock = clock
        self._sleep = sleep
        self._closed_until: dict[str, float] = {}

    async def _wait_for_host(self, host: str, url: str) -> None:
        until = self._closed_until.get(host)
        if until is None:
            return
        wait = until - self._clock()
        if wait <= 0:
            self._closed_until.pop(host, None)
            return
        if wait > self._max_wait:
            raise ServiceUnavailableError(
                f"Request failed for {url}, rate limit exceeded; {host} accepts requests "
                f"again in {wait:.0f}s (rate limit exceeded)"
            )
        await self._sleep(wait)

    def _close_host(self, host: str, wait: float, url: str) -> None:
        until = self._clock() + wait
        if self._closed_until.get(host, 0) < self._clock():
            self._logger.warn(
                f"Rate limit of {host} reached reading {url}; requests to it wait {wait:.0f}s"
            )
        self._closed_until[host] = max(until, self._closed_until.get(host, 0))

    async def get(
        self,
        url: str,
        headers: Mapping[str, str],
        *,
        check_redirect: Callable[[str], None] | None = None,
        max_bytes: int | None = None,
    ) -> Fetched:
        """GET `url`: the body, or a typed error (304 `NotModifiedError`, 404
        `NotFoundError`, 401/403 `NotAllowedError`, other failures and exhausted rate limits
        `ServiceUnavailableError`).

        Redirects are followed (five at most); with `check_redirect`, each hop's URL is
        passed to it first, and it raises to refuse the hop."""
        limit = max_bytes or self._max_bytes
        attempt = 0
        for _ in range(_RETRIES + _MAX_REDIRECTS + 1):
            host = urlsplit(url).netloc
            await self._wait_for_host(host, url)
            async with self.client.stream(
                "GET", url, headers=dict(headers), follow_redirects=check_redirect is None
            ) as response:
                location = response.headers.get("location")
                if check_redirect is not None and response.status_code in _REDIRECTS and location:
                    url = urljoin(url, location)
                    check_redirect(url)
                    continue
                wait = _rate_limit_wait(response, self._clock())
                if wait is not None:
                    attempt += 1
                    if wait > self._max_wait or attempt > _RETRIES:
                        self._close_host(host, wait, url)
                        raise ServiceUnavailableError(
                            f"Request failed for {url}, {response.status_code} "
                            f"{response.reason_phrase} (rate limit exceeded)"
                        )
                    self._close_host(host, wait, url)
                    continue
                if response.status_code == 304:
                    # A 304 has no body: read, its connection goes back to the pool
                    # instead of being closed (a pass of 304s would connect once each).
                    await response.aread()
                _raise_for_status(url, response)
                data = bytearray()
                async for chunk in response.aiter_bytes():
                    data.extend(chunk)
                    if len(data) > limit:
                        raise NotAllowedError(f"{url} is larger than the {limit} bytes allowed")
                return Fetched(
                    bytes(data),
                    response.headers.get("etag"),
                    _last_modified(response.headers),
                    response.headers,
                    response.status_code,
                )
        raise ServiceUnavailableError(f"Request failed for {url}, too many redirects")

    async def json(self, url: str, headers: Mapping[str, str]) -> object:
        """GET `url` and decode its JSON body."""
        fetched = await self.get(url, headers, max_bytes=64 * 1024 * 1024)
        return msgspec.json.decode(fetched.data)


def _raise_for_status(url: str, response: httpx.Response) -> None:
    status = response.status_code
    if status < 300:
        return
    if status == 304:
        raise NotModifiedError(f"{url} has not changed")
    if status == 404:
        raise NotFoundError(f"{url} could not be read, 404 {response.reason_phrase}")
    message = f"Request failed for {url}, {status} {response.reason_phrase}"
    if status in (401, 403):
        raise NotAllowedError(message)
    raise ServiceUnavailableError(message)
