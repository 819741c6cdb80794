"""An HTTP client a service factory hands out before any request needs it."""

from __future__ import annotations

import httpx
from backstage_common.tls import client_ssl_context

__all__ = ["LazyHttpClient"]


class LazyHttpClient:
    """An `httpx.AsyncClient` made on the first call and closed by `close`.

    Service factories run for every plugin at start-up, and most plugins never make the calls
    the client is for (fetching another plugin's keys, asking the permission plugin): making
    it on first use keeps a client and its pool out of the plugins that do not.

    Args:
        timeout: the client's timeouts.
    """

    def __init__(self, timeout: httpx.Timeout) -> None:
        self._timeout = timeout
        self._client: httpx.AsyncClient | None = None

    def __call__(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(verify=client_ssl_context(), timeout=self._timeout)
        return self._client

    async def close(self) -> None:
        """Close the client, if one was made; a later call makes a new one."""
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
