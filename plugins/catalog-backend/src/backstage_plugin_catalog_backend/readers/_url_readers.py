"""All URL readers of the catalog: module-added ones first, then plain HTTP(S)."""

from __future__ import annotations

from collections.abc import Sequence

from backstage_common.errors import NotAllowedError
from backstage_plugin_catalog_node import ReadUrlResponse, UrlReader

__all__ = ["UrlReaders"]


class UrlReaders:
    def __init__(self, readers: Sequence[UrlReader]) -> None:
        self._readers = tuple(readers)

    def can_read(self, url: str) -> bool:
        return any(reader.can_read(url) for reader in self._readers)

    async def read_url(self, url: str, *, etag: str | None = None) -> ReadUrlResponse:
        for reader in self._readers:
            if reader.can_read(url):
                return await reader.read_url(url, etag=etag)
        raise NotAllowedError(f"Reading from '{url}' is not allowed, no reader handles it")
