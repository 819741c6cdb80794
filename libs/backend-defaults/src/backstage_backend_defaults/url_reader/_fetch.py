"""The reader of last resort: plain HTTP(S) GETs of hosts `backend.reading.allow` admits.

Redirects (five at most) are followed hop by hop, each hop checked against the allow list
again, so an allowed host cannot redirect a read elsewhere.
"""

from __future__ import annotations

from datetime import datetime

from backstage_backend_plugin_api import (
    ReadTreeFilter,
    UrlReaderServiceReadTreeResponse,
    UrlReaderServiceReadUrlResponse,
    UrlReaderServiceSearchResponse,
)
from backstage_common.errors import InputError, NotAllowedError
from backstage_integration import ReadingAllowList

from backstage_backend_defaults.url_reader._glob import has_glob
from backstage_backend_defaults.url_reader._http import ReaderHttp, conditional_headers
from backstage_backend_defaults.url_reader._search import search_one_file

__all__ = ["FetchUrlReader", "not_allowed"]


def not_allowed(url: str) -> NotAllowedError:
    return NotAllowedError(
        f"Reading from '{url}' is not allowed. You may need to configure an integration for "
        "the target host, or add it to the configured list of allowed hosts at "
        "'backend.reading.allow'"
    )


class FetchUrlReader:
    """Reads URLs of hosts the allow list admits."""

    def __init__(self, http: ReaderHttp, allow: ReadingAllowList) -> None:
        """Args:
        http: the shared HTTP side (rate limits, bounded bodies).
        allow: `backend.reading.allow`.
        """
        self._http = http
        self._allow = allow

    def can_read(self, url: str) -> bool:
        return self._allow.allows(url)

    async def read_url(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified_after: datetime | None = None,
        token: str | None = None,
    ) -> UrlReaderServiceReadUrlResponse:
        headers = conditional_headers(etag, last_modified_after)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if not self._allow.allows(url):
            raise not_allowed(url)

        def check(hop: str) -> None:
            if not self._allow.allows(hop):
                raise not_allowed(hop)

        fetched = await self._http.get(url, headers, check_redirect=check)
        return UrlReaderServiceReadUrlResponse(fetched.data, fetched.etag, fetched.last_modified_at)

    async def read_tree(
        self,
        url: str,
        *,
        etag: str | None = None,
        filter: ReadTreeFilter | None = None,
        token: str | None = None,
    ) -> UrlReaderServiceReadTreeResponse:
        raise InputError(f"Reading a tree is not supported for {url}")

    async def search(
        self, url: str, *, etag: str | None = None, token: str | None = None
    ) -> UrlReaderServiceSearchResponse:
        if has_glob(url):
            raise InputError(f"Unsupported search pattern URL {url}")
        return await search_one_file(self.read_url, url, etag, token)
