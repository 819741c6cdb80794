"""What every reader's `search` shares: file contents already in memory, a URL without a
glob answered by reading that one file, and a glob answered from a tree."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from backstage_backend_plugin_api import (
    UrlReaderServiceReadTreeResponse,
    UrlReaderServiceReadUrlResponse,
    UrlReaderServiceSearchResponse,
    UrlReaderServiceSearchResponseFile,
)
from backstage_common.errors import InputError, NotFoundError

__all__ = ["constant_content", "json_object", "search_one_file", "search_tree"]


def constant_content(data: bytes) -> Callable[[], Awaitable[bytes]]:
    """A search result's `content` for bytes already read."""

    async def content() -> bytes:
        return data

    return content


def json_object(value: object, provider: str) -> dict[str, Any]:
    """`value` if it is a JSON object, else an `InputError` naming `provider`."""
    if not isinstance(value, dict):
        raise InputError(f"{provider} answered an unexpected JSON document")
    return value


async def search_one_file(
    read_url: Callable[..., Awaitable[UrlReaderServiceReadUrlResponse]],
    url: str,
    etag: str | None,
    token: str | None,
) -> UrlReaderServiceSearchResponse:
    """The search of a URL that names one file: that file, or nothing when it is missing
    (as Backstage's readers answer a search for a missing file)."""
    try:
        response = await read_url(url, etag=etag, token=token)
    except NotFoundError:
        return UrlReaderServiceSearchResponse([], "")
    return UrlReaderServiceSearchResponse(
        [
            UrlReaderServiceSearchResponseFile(
                url, constant_content(response.data), response.last_modified_at
            )
        ],
        response.etag or "",
    )


async def search_tree(
    tree: UrlReaderServiceReadTreeResponse, url_of: Callable[[str], str]
) -> UrlReaderServiceSearchResponse:
    """The search answered by every file of `tree` (read with the glob as its filter),
    versioned as the tree is.

    Args:
        tree: the tree holding the matching files.
        url_of: the URL of the file at a path of the tree.
    """
    files = [
        UrlReaderServiceSearchResponseFile(
            url_of(file.path), constant_content(file.content), file.last_modified_at
        )
        for file in await tree.files()
    ]
    return UrlReaderServiceSearchResponse(files, tree.etag)
