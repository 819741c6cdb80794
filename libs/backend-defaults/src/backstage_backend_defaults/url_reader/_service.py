"""The default `core.urlReader`: one reader per integration entry, chosen by the URL's host,
then plain HTTP(S) for hosts `backend.reading.allow` admits; nothing else is read."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from backstage_backend_plugin_api import (
    ReadTreeFilter,
    UrlReaderServiceReadTreeResponse,
    UrlReaderServiceReadUrlResponse,
    UrlReaderServiceSearchResponse,
)
from backstage_common.errors import InputError, NotAllowedError
from backstage_integration import parse_fetch_url

from backstage_backend_defaults.url_reader._fetch import FetchUrlReader, not_allowed

__all__ = ["DefaultUrlReader", "HostReader"]

_CHOSEN_KEPT = 100_000
"""URLs whose reader is kept (then all are dropped at once: a catalog asks for a fixed set)."""


class HostReader(Protocol):
    """A reader for every URL of one host."""

    @property
    def host(self) -> str: ...

    async def read_url(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified_after: datetime | None = None,
        token: str | None = None,
    ) -> UrlReaderServiceReadUrlResponse: ...

    async def read_tree(
        self,
        url: str,
        *,
        etag: str | None = None,
        filter: ReadTreeFilter | None = None,
        token: str | None = None,
    ) -> UrlReaderServiceReadTreeResponse: ...

    async def search(
        self, url: str, *, etag: str | None = None, token: str | None = None
    ) -> UrlReaderServiceSearchResponse: ...


class DefaultUrlReader:
    """Sends each call to the reader of the URL's host (the first integration entry for
    it), else to the allow-listed fetch reader.

    URLs whose host a browser and the fetcher could read differently are refused before
    any reader sees them (`parse_fetch_url`)."""

    def __init__(self, readers: Sequence[HostReader], fetch: FetchUrlReader) -> None:
        """Args:
        readers: one reader per integration entry; the first for a host wins.
        fetch: the reader of hosts `backend.reading.allow` admits.
        """
        self._by_host: dict[str, HostReader] = {}
        for reader in readers:
            self._by_host.setdefault(reader.host, reader)
        self._fetch = fetch
        self._chosen: dict[str, HostReader | FetchUrlReader] = {}

    def _reader(self, url: str) -> HostReader | FetchUrlReader:
        # The checks parse the URL three times over (about 0.1 ms): the catalog asks again
        # for the same locations on every pass. Only URLs that passed are kept.
        reader = self._chosen.get(url)
        if reader is None:
            reader = self._choose(url)
            if len(self._chosen) >= _CHOSEN_KEPT:
                self._chosen.clear()
            self._chosen[url] = reader
        return reader

    def _choose(self, url: str) -> HostReader | FetchUrlReader:
        try:
            target = parse_fetch_url(url)
        except InputError as error:
            raise NotAllowedError(str(error)) from None
        reader = self._by_host.get(target.authority)
        if reader is not None:
            return reader
        if self._fetch.can_read(url):
            return self._fetch
        raise not_allowed(url)

    def can_read(self, url: str) -> bool:
        """Whether some reader handles `url`."""
        try:
            self._reader(url)
        except NotAllowedError:
            return False
        return True

    async def read_url(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified_after: datetime | None = None,
        token: str | None = None,
    ) -> UrlReaderServiceReadUrlResponse:
        return await self._reader(url).read_url(
            url, etag=etag, last_modified_after=last_modified_after, token=token
        )

    async def read_tree(
        self,
        url: str,
        *,
        etag: str | None = None,
        filter: ReadTreeFilter | None = None,
        token: str | None = None,
    ) -> UrlReaderServiceReadTreeResponse:
        return await self._reader(url).read_tree(url, etag=etag, filter=filter, token=token)

    async def search(
        self, url: str, *, etag: str | None = None, token: str | None = None
    ) -> UrlReaderServiceSearchResponse:
        return await self._reader(url).search(url, etag=etag, token=token)
