"""The plugin's HTTP client (to the auth backend and the plugins applying conditions)."""

from __future__ import annotations

import httpx
from backstage_common.tls import client_ssl_context

__all__ = ["LazyHttpClient"]

_TIMEOUT = httpx.Timeout(30.0, connect=5.0)


class LazyHttpClient:
    """An `httpx.AsyncClient` made on first use and closed at shutdown."""

    def __init__(self) -> None:
        self._client: httpx.AsyncClient | None = None

    def __call__(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(verify=client_ssl_context(), timeout=_TIMEOUT)
        return self._client

    async def close(self) -> None:
        """Close the client, if one was made."""
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
