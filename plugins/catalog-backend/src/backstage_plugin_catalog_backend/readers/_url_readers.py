"""All URL readers of the catalog: module-added ones first, then plain HTTP(S)."""

from __future__ import annotations

from collections.abc import Sequence

from backstage_common.errors import InputError, NotAllowedError
from backstage_plugin_catalog_node import ReadUrlResponse, UrlReader

from backstage_plugin_catalog_backend.readers._urls import parse_fetch_url

__all__ = ["UrlReaders"]


class UrlReaders:
    def __init__(self, readers: Sequence[UrlReader]) -> None:
        self._readers = tuple(readers)

    def can_read(self, url: str) -> bool:
        return any(reader.can_read(url) for reader in self._readers)

    async def read_url(self, url: str, *, etag: str | None = None) -> ReadUrlResponse:
        """Read through the first reader that handles `url`; an http(s) URL whose host is
        ambiguous is refused before any reader sees it."""
        if url.lower().startswith(("http:", "https:")):
            try:
                parse_fetch_url(url)
            except InputError as error:
                raise NotAllowedError(str(error)) from None
        for reader in self._readers:
            if reader.can_read(url):
                return await reader.read_url(url, etag=etag)
        raise NotAllowedError(f"Reading from '{url}' is not allowed, no reader handles it")
