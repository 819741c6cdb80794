"""GitLab's REST v4 API as discovery uses it: paged lists (`x-next-page`), projects and the
catalog file probe."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import httpx
from backstage_common.errors import NotAllowedError, ServiceUnavailableError
from backstage_integration import GitlabIntegrationConfig

__all__ = ["GitlabApi"]

_MAX_PAGES = 10_000


class GitlabApi:
    """Calls to one GitLab instance with its integration's token.

    Args:
        integration: the instance's integration.
        client: the HTTP client.
    """

    def __init__(self, integration: GitlabIntegrationConfig, client: httpx.AsyncClient) -> None:
        self.integration = integration
        self._client = client
        self._base = integration.api_base_url.rstrip("/")
        self._headers = (
            {"Authorization": f"Bearer {integration.token}"} if integration.token else {}
        )

    async def _get(self, path: str, params: dict[str, str] | None = None) -> httpx.Response:
        try:
            response = await self._client.get(
                self._base + path, params=params, headers=self._headers
            )
        except httpx.HTTPError as error:
            raise ServiceUnavailableError(f"GitLab at {self._base}: {error}") from None
        if response.status_code >= 500:
            raise ServiceUnavailableError(f"GitLab answered {response.status_code} for {path}")
        return response

    async def pages(self, path: str, params: dict[str, str]) -> AsyncIterator[dict[str, Any]]:
        """Every item of a paged list, following `x-next-page`.

        Args:
            path: the list's path under the API base (`/projects`).
            params: its query; empty values are left out, as Backstage does.

        Raises:
            NotAllowedError: GitLab refused the request.
            ServiceUnavailableError: GitLab could not be reached or failed.
        """
        query = {k: v for k, v in params.items() if v}
        page = "1"
        for _ in range(_MAX_PAGES):
            response = await self._get(path, {**query, "page": page, "per_page": "50"})
            if response.status_code >= 400:
                raise NotAllowedError(f"GitLab answered {response.status_code} for {path}")
            body = response.json()
            for item in body if isinstance(body, list) else []:
                if isinstance(item, dict):
                    yield item
            page = response.headers.get("x-next-page", "")
            if not page:
                return

    async def project(self, id: int | str) -> dict[str, Any] | None:
        """A project by id, or None when it is not visible.

        Args:
            id: the project's id.
        """
        response = await self._get(f"/projects/{quote(str(id), safe='')}")
        if response.status_code >= 400:
            return None
        body = response.json()
        return body if isinstance(body, dict) else None

    async def has_file(self, project_id: int | str, path: str, ref: str) -> bool:
        """Whether the file exists at `ref` (a HEAD; any non-2xx means no).

        Args:
            project_id: the project's id.
            path: the file's path in the repository.
            ref: the branch.
        """
        url = (
            f"{self._base}/projects/{quote(str(project_id), safe='')}/repository/files/"
            f"{quote(path, safe='')}"
        )
        try:
            response = await self._client.head(url, params={"ref": ref}, headers=self._headers)
        except httpx.HTTPError as error:
            raise ServiceUnavailableError(f"GitLab at {self._base}: {error}") from None
        return 200 <= response.status_code < 300
