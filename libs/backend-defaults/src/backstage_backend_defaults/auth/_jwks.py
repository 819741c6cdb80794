"""Public keys of a token issuer (another plugin, or the auth backend for user tokens),
fetched from its JWKS endpoint and cached.

An unknown key id triggers a refetch (a new key after the issuer rotated), but at most
`max_fetches` per `window` per issuer, and concurrent lookups share one fetch: tokens with
made-up key ids cannot make this plugin hammer the issuer.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from backstage_backend_plugin_api import LoggerService
from backstage_common.errors import AuthenticationError
from jwt import PyJWK, PyJWKError

__all__ = ["JWKS_PATH", "RemoteKeySet"]

JWKS_PATH = "/.backstage/auth/v1/jwks.json"


class _MissingJwks(Exception):
    """The issuer has no JWKS endpoint (404)."""


class RemoteKeySet:
    """The verification keys of one issuer, by key id; `url` gives the issuer's base URL
    (asked of discovery before each fetch) and `path` the JWKS document under it."""

    def __init__(
        self,
        issuer: str,
        url: Callable[[], Awaitable[str]],
        path: str,
        http: Callable[[], httpx.AsyncClient],
        logger: LoggerService,
        *,
        algorithm: str,
        missing_message: str,
        max_fetches: int = 10,
        window: float = 60.0,
        max_age: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._issuer = issuer
        self._url = url
        self._path = path
        self._http = http
        self._logger = logger
        self._algorithm = algorithm
        self._missing_message = missing_message
        self._max_fetches = max_fetches
        self._window = window
        self._max_age = max_age
        self._clock = clock
        self._keys: dict[str, PyJWK] = {}
        self._fetched_at: float | None = None
        self._recent: deque[float] = deque()
        self._inflight: asyncio.Future[None] | None = None

    async def key(self, kid: str) -> PyJWK | None:
        """The key with this id, refetching the issuer's JWKS when it is unknown or stale."""
        fresh = self._fetched_at is not None and self._clock() - self._fetched_at < self._max_age
        if fresh and kid in self._keys:
            return self._keys[kid]
        await self._refresh()
        return self._keys.get(kid)

    def _may_fetch(self) -> bool:
        now = self._clock()
        while self._recent and now - self._recent[0] >= self._window:
            self._recent.popleft()
        return len(self._recent) < self._max_fetches

    async def _refresh(self) -> None:
        if self._inflight is not None:
            await asyncio.shield(self._inflight)
            return
        if not self._may_fetch():
            return
        self._recent.append(self._clock())
        self._inflight = asyncio.ensure_future(self._fetch())
        try:
            await asyncio.shield(self._inflight)
        finally:
            self._inflight = None

    async def _fetch(self) -> None:
        try:
            keys = self._parse(await self._download())
        except _MissingJwks:
            raise AuthenticationError(self._missing_message) from None
        except (httpx.HTTPError, ValueError) as error:
            self._logger.warn(f"Failed to fetch the public keys of '{self._issuer}'", error)
            raise AuthenticationError("Failed to fetch the token issuer's public keys") from None
        self._keys = keys
        self._fetched_at = self._clock()

    async def _download(self) -> Any:
        response = await self._http().get(await self._url() + self._path)
        if response.status_code == 404:
            raise _MissingJwks
        response.raise_for_status()
        return response.json()

    def _parse(self, document: Any) -> dict[str, PyJWK]:
        keys = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(keys, list):
            raise ValueError(f"Invalid JWKS from plugin '{self._issuer}', missing keys")
        parsed: dict[str, PyJWK] = {}
        for entry in keys:
            if not isinstance(entry, dict) or not isinstance(entry.get("kid"), str):
                continue
            if entry.get("alg", self._algorithm) != self._algorithm:
                continue
            try:
                parsed[entry["kid"]] = PyJWK(entry, algorithm=self._algorithm)
            except PyJWKError:
                continue  # a key this algorithm cannot use is no key for us
        return parsed
