"""Reading every entity from the catalog plugin, a page at a time, over HTTP."""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
import msgspec
from backstage_backend_plugin_api import AuthService, DiscoveryService
from backstage_common.errors import ServiceUnavailableError

__all__ = ["CatalogPageReader"]

_CATALOG = "catalog"


def _cursor_has_query(cursor: str) -> bool:
    """Backstage's client sends cursors of predicate queries by POST; so do we."""
    try:
        decoded = msgspec.json.decode(base64.b64decode(cursor))
    except (binascii.Error, ValueError, msgspec.DecodeError):
        return False
    return isinstance(decoded, dict) and "query" in decoded


def _error_message(response: httpx.Response) -> str:
    try:
        body = msgspec.json.decode(response.content)
        message = body["error"]["message"]
        if isinstance(message, str):
            return message
    except (msgspec.DecodeError, KeyError, TypeError):
        pass
    return response.text[:200]


class CatalogPageReader:
    """`GET /entities/by-query` with a keyset cursor, a fresh service token per page."""

    def __init__(
        self,
        *,
        client: httpx.AsyncClient,
        discovery: DiscoveryService,
        auth: AuthService,
        page_size: int,
        fields: Sequence[str] | None,
        filters: Sequence[str],
    ) -> None:
        self._client = client
        self._discovery = discovery
        self._auth = auth
        self._page_size = page_size
        self._fields = ",".join(fields) if fields else None
        self._filters = list(filters)

    async def _headers(self) -> dict[str, str]:
        credentials = await self._auth.get_own_service_credentials()
        token = await self._auth.get_plugin_request_token(
            on_behalf_of=credentials, target_plugin_id=_CATALOG
        )
        return {"Authorization": f"Bearer {token.token}"} if token.token else {}

    def _params(self, cursor: str | None) -> list[tuple[str, str | int | float | bool | None]]:
        params: list[tuple[str, str | int | float | bool | None]] = [
            ("limit", str(self._page_size))
        ]
        if self._fields:
            params.append(("fields", self._fields))
        if cursor is not None:
            return [("cursor", cursor), *params]
        params.append(("totalItems", "exclude"))
        params += [("filter", item) for item in self._filters]
        return params

    async def _page(self, cursor: str | None) -> dict[str, Any]:
        base_url = await self._discovery.get_base_url(_CATALOG)
        url = f"{base_url}/entities/by-query"
        headers = await self._headers()
        try:
            if cursor is not None and _cursor_has_query(cursor):
                body: dict[str, Any] = {"cursor": cursor, "limit": self._page_size}
                if self._fields:
                    body["fields"] = self._fields.split(",")
                response = await self._client.post(url, json=body, headers=headers)
            else:
                response = await self._client.get(url, params=self._params(cursor), headers=headers)
        except httpx.HTTPError as error:
            raise ServiceUnavailableError(
                f"Could not read entities from the catalog at {url}: {type(error).__name__}"
                f" {error}".rstrip()
            ) from error
        if response.status_code != 200:
            raise ServiceUnavailableError(
                f"The catalog at {url} answered {response.status_code}: {_error_message(response)}"
            )
        page = msgspec.json.decode(response.content)
        if not isinstance(page, dict) or not isinstance(page.get("items"), list):
            raise ServiceUnavailableError(f"The catalog at {url} sent a page without items")
        return page

    async def pages(self) -> AsyncIterator[list[dict[str, Any]]]:
        """The entities, one page at a time, until the catalog gives no next cursor."""
        cursor: str | None = None
        while True:
            page = await self._page(cursor)
            yield page["items"]
            page_info = page.get("pageInfo")
            next_cursor = page_info.get("nextCursor") if isinstance(page_info, dict) else None
            if not isinstance(next_cursor, str) or not next_cursor:
                return
            cursor = next_cursor
