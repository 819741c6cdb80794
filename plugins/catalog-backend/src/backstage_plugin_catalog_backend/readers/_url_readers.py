"""All URL readers of the catalog: module-added ones first, then the backend's
`core.urlReader` (integrations, then hosts `backend.reading.allow` admits)."""

from __future__ import annotations

from collections.abc import Sequence

from backstage_backend_plugin_api import (
    UrlReaderService,
    UrlReaderServiceReadUrlResponse,
    UrlReaderServiceSearchResponse,
    UrlReaderServiceSearchResponseFile,
)
from backstage_common.errors import InputError, NotAllowedError, NotFoundError
from backstage_integration import parse_fetch_url
from backstage_plugin_catalog_node import UrlReader

__all__ = ["UrlReaders"]


class UrlReaders:
    def __init__(self, readers: Sequence[UrlReader], core: UrlReaderService) -> None:
        self._readers = tuple(readers)
        self._core = core

    def _module_reader(self, url: str) -> UrlReader | None:
        if not self._readers:  # the core reader refuses an ambiguous host itself
            return None
        # an http(s) URL whose host is ambiguous is refused before any reader sees it
        if url.lower().startswith(("http:", "https:")):
            try:
                parse_fetch_url(url)
            except InputError as error:
                raise NotAllowedError(str(error)) from None
        return next((reader for reader in self._readers if reader.can_read(url)), None)

    async def read_url(
        self, url: str, *, etag: str | None = None
    ) -> UrlReaderServiceReadUrlResponse:
        """Read through the first module reader that handles `url`, else the core reader."""
        reader = self._module_reader(url)
        if reader is not None:
            response = await reader.read_url(url, etag=etag)
            return UrlReaderServiceReadUrlResponse(response.data, response.etag)
        if not url.lower().startswith(("http:", "https:")):
            raise NotAllowedError(f"Reading from '{url}' is not allowed, no reader handles it")
        return await self._core.read_url(url, etag=etag)

    async def search(self, url: str, *, etag: str | None = None) -> UrlReaderServiceSearchResponse:
        """The files a (glob) URL names; a module reader reads its URLs as one file."""
        reader = self._module_reader(url)
        if reader is None:
            if not url.lower().startswith(("http:", "https:")):
                raise NotAllowedError(f"Reading from '{url}' is not allowed, no reader handles it")
            return await self._core.search(url, etag=etag)
        try:
            response = await reader.read_url(url, etag=etag)
        except NotFoundError:
            return UrlReaderServiceSearchResponse([], "")
        data = response.data

        async def content() -> bytes:
            return data

        return UrlReaderServiceSearchResponse(
            [UrlReaderServiceSearchResponseFile(url, content)], response.etag or ""
        )
