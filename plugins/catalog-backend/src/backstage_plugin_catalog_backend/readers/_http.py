"""The default URL reader: plain HTTP(S) GET through the plugin's shared client."""

from __future__ import annotations

from collections import OrderedDict
from urllib.parse import urljoin

import httpx
from backstage_common.errors import NotAllowedError, NotFoundError, NotModifiedError
from backstage_plugin_catalog_node import ReadUrlResponse

from backstage_plugin_catalog_backend.readers._allow import ReadingAllowList
from backstage_plugin_catalog_backend.readers._yaml import MAX_DOCUMENT_BYTES

__all__ = ["HttpUrlReader"]

_MAX_REDIRECTS = 5
_CACHED_URLS = 256
_CACHED_BYTES = 256 * 1024


class HttpUrlReader:
    """Fetches URLs that `backend.reading.allow` admits; redirects are followed by hand so
    that every hop is checked against the allow list too.

    The last answer of each URL that carried an ETag is kept (a bounded number, small files
    only), and asked for again with `If-None-Match`: a source answering 304 sends nothing."""

    def __init__(self, client: httpx.AsyncClient, allow: ReadingAllowList) -> None:
        self._client = client
        self._allow = allow
        self._cache: OrderedDict[str, ReadUrlResponse] = OrderedDict()

    async def read_url(self, url: str, *, etag: str | None = None) -> ReadUrlResponse:
        cached = self._cache.get(url) if etag is None else None
        try:
            response = await self._fetch(url, etag or (cached.etag if cached else None))
        except NotModifiedError:
            if cached is None:
                raise
            self._cache.move_to_end(url)
            return cached
        self._remember(url, response)
        return response

    def _remember(self, url: str, response: ReadUrlResponse) -> None:
        if response.etag is None or len(response.data) > _CACHED_BYTES:
            self._cache.pop(url, None)
            return
        self._cache[url] = response
        self._cache.move_to_end(url)
        while len(self._cache) > _CACHED_URLS:
            self._cache.popitem(last=False)

    def can_read(self, url: str) -> bool:
        return url.startswith(("http://", "https://"))

    def _check(self, url: str) -> None:
        if not self._allow.allows(url):
            raise NotAllowedError(
                f"Reading from '{url}' is not allowed. You may need to configure an "
                "integration for the target host, or add it to the configured list of "
                "allowed hosts at 'backend.reading.allow'"
            )

    async def _fetch(self, url: str, etag: str | None) -> ReadUrlResponse:
        current = url
        headers = {"If-None-Match": etag} if etag else {}
        for _ in range(_MAX_REDIRECTS + 1):
            self._check(current)
            async with self._client.stream(
                "GET", current, headers=headers, follow_redirects=False
            ) as response:
                if response.is_redirect and "location" in response.headers:
                    current = urljoin(current, response.headers["location"])
                    continue
                if response.status_code == 304:
                    raise NotModifiedError(f"{url} has not changed")
                if response.status_code == 404:
                    raise NotFoundError(f"{url} could not be read, not found")
                if response.status_code >= 400:
                    raise NotFoundError(
                        f"{url} could not be read, {response.status_code} {response.reason_phrase}"
                    )
                data = bytearray()
                async for chunk in response.aiter_bytes():
                    data.extend(chunk)
                    if len(data) > MAX_DOCUMENT_BYTES:
                        raise NotAllowedError(
                            f"{url} is larger than the {MAX_DOCUMENT_BYTES} bytes a catalog "
                            "file may have"
                        )
                return ReadUrlResponse(bytes(data), response.headers.get("etag"))
        raise NotFoundError(f"{url} could not be read, more than {_MAX_REDIRECTS} redirects")
