"""core.urlReader: reads files and trees from SCM integrations and allowed hosts.

One service for every plugin, so the catalog, search and any other plugin read GitHub,
GitLab and plain HTTP(S) hosts the same way, with the same credentials and the same
`backend.reading.allow` rules.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

__all__ = [
    "ReadTreeFilter",
    "UrlReaderService",
    "UrlReaderServiceReadTreeResponse",
    "UrlReaderServiceReadTreeResponseFile",
    "UrlReaderServiceReadUrlResponse",
    "UrlReaderServiceSearchResponse",
    "UrlReaderServiceSearchResponseFile",
]

ReadTreeFilter = Callable[[str, int], bool]
"""Decides whether a tree entry is kept: `(path relative to the tree URL, size in bytes)`."""


@dataclass(frozen=True, slots=True)
class UrlReaderServiceReadUrlResponse:
    """A file's content.

    Args:
        data: the file's bytes.
        etag: the ETag to send as `etag` next time, if the source gave one.
        last_modified_at: the source's `Last-Modified`, if any.
    """

    data: bytes = field(repr=False)
    etag: str | None = None
    last_modified_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class UrlReaderServiceReadTreeResponseFile:
    """One file of a tree.

    Args:
        path: the path relative to the tree URL's path.
        content: the file's bytes.
        last_modified_at: when the file last changed, if the archive says.
    """

    path: str
    content: bytes = field(repr=False)
    last_modified_at: datetime | None = None


class UrlReaderServiceReadTreeResponse(Protocol):
    """A tree (a directory of a repository at one commit)."""

    @property
    def etag(self) -> str:
        """The tree's version (a commit sha); send it as `etag` to skip an unchanged tree."""
        ...

    async def files(self) -> list[UrlReaderServiceReadTreeResponseFile]:
        """Every file kept by the filter."""
        ...

    async def archive(self) -> bytes:
        """The kept files as an uncompressed tar, paths relative to the tree URL."""
        ...

    async def dir(self, target_dir: str | None = None) -> str:
        """Write the kept files into a directory and return its path.

        Args:
            target_dir: where to write; None: a new temporary directory.
        """
        ...


@dataclass(frozen=True, slots=True)
class UrlReaderServiceSearchResponseFile:
    """A file a search found.

    Args:
        url: the file's URL (a `.../blob/<ref>/<path>` URL for GitHub).
        content: reads the file's bytes (lazily: only files a caller uses are fetched).
        last_modified_at: when the file last changed, if known.
    """

    url: str
    content: Callable[[], Awaitable[bytes]] = field(repr=False)
    last_modified_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class UrlReaderServiceSearchResponse:
    """The files matching a search URL.

    Args:
        files: the matches.
        etag: the version searched (a commit sha, or the single file's ETag); `""` if none.
    """

    files: list[UrlReaderServiceSearchResponseFile]
    etag: str = ""


class UrlReaderService(Protocol):
    """Reads URLs through the integration for their host, else through plain HTTP(S) for
    hosts `backend.reading.allow` admits.

    Every method raises `NotModifiedError` when `etag` still matches, `NotFoundError` when
    the URL does not exist and `NotAllowedError` when nothing may read it.
    """

    async def read_url(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified_after: datetime | None = None,
        token: str | None = None,
    ) -> UrlReaderServiceReadUrlResponse:
        """Read one file.

        Args:
            url: the file's URL (`https://github.com/o/r/blob/main/x.yaml`, ...).
            etag: the ETag of the copy the caller holds.
            last_modified_after: the time of the copy the caller holds.
            token: a token to send instead of the integration's credentials.
        """
        ...

    async def read_tree(
        self,
        url: str,
        *,
        etag: str | None = None,
        filter: ReadTreeFilter | None = None,
        token: str | None = None,
    ) -> UrlReaderServiceReadTreeResponse:
        """Read a directory of a repository through the provider's archive API.

        Args:
            url: the tree's URL (`https://github.com/o/r/tree/main/docs`).
            etag: the tree etag of the copy the caller holds.
            filter: keeps the entries it returns True for.
            token: a token to send instead of the integration's credentials.
        """
        ...

    async def search(
        self, url: str, *, etag: str | None = None, token: str | None = None
    ) -> UrlReaderServiceSearchResponse:
        """Find the files a glob URL matches (`.../blob/main/**/catalog-info.yaml`); a URL
        without `*` or `?` is read as one file (none when it does not exist).

        Args:
            url: the glob URL.
            etag: the search etag of the result the caller holds.
            token: a token to send instead of the integration's credentials.
        """
        ...
