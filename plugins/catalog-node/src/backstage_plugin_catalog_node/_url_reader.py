"""URL readers: how the catalog fetches the files behind `url` locations and placeholders."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["ReadUrlResponse", "UrlReader"]


@dataclass(frozen=True, slots=True)
class ReadUrlResponse:
    data: bytes
    etag: str | None = None


class UrlReader(Protocol):
    """Reads URLs of the hosts it handles.

    `read_url` raises `NotFoundError` when the URL does not exist, `NotModifiedError` when
    `etag` still matches, and `NotAllowedError` for a URL it may not read."""

    def can_read(self, url: str) -> bool:
        """True if this reader handles `url` (and configuration allows reading it)."""
        ...

    async def read_url(self, url: str, *, etag: str | None = None) -> ReadUrlResponse: ...
