"""Paged GitHub and GitLab list endpoints, followed through their `Link: rel="next"` header."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import httpx
from backstage_common.errors import NotAllowedError, NotFoundError

__all__ = ["github_pages"]

MAX_PAGES = 1000


def _next_link(response: httpx.Response) -> str | None:
    link = response.links.get("next")
    return link.get("url") if link else None


async def github_pages(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], key: str | None = None
) -> AsyncIterator[Any]:
    """Every item of a paged list, page after page.

    Args:
        client: the HTTP client.
        url: the first page.
        headers: sent with every page.
        key: the member holding the items when a page is an object
            (`repositories` of `/installation/repositories`); None for a JSON array.

    Raises:
        NotFoundError: a page answered 404.
        NotAllowedError: a page answered another error, or a `next` link leaves the
            first page's origin (a token is never sent elsewhere).
    """
    origin = urlsplit(url)[:2]
    current: str | None = url
    for _ in range(MAX_PAGES):
        if current is None:
            return
        if urlsplit(current)[:2] != origin:
            raise NotAllowedError(f"Refusing to follow a page link to another host: {current}")
        response = await client.get(current, headers=headers)
        if response.status_code == 404:
            raise NotFoundError(f"{current} was not found")
        if response.status_code >= 400:
            raise NotAllowedError(
                f"Request failed for {current}, {response.status_code} {response.reason_phrase}"
            )
        body = response.json()
        items = body.get(key, []) if key is not None and isinstance(body, dict) else body
        for item in items if isinstance(items, list) else []:
            yield item
        current = _next_link(response)
