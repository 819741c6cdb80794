"""GitHub's GraphQL API with the credentials `backstage_integration` gives for an org."""

from __future__ import annotations

from typing import Any

import httpx
from backstage_common.errors import NotAllowedError, ServiceUnavailableError
from backstage_integration import GithubCredentialsProvider, GithubIntegrationConfig
from backstage_plugin_catalog_node import location_spec_to_location_entity as location_entity

__all__ = ["GithubApi", "location_entity"]


class GithubApi:
    """GraphQL calls for one GitHub host.

    Args:
        integration: the host's integration.
        credentials: gives the token for `https://<host>/<org>`.
        client: the HTTP client.
    """

    def __init__(
        self,
        integration: GithubIntegrationConfig,
        credentials: GithubCredentialsProvider,
        client: httpx.AsyncClient,
    ) -> None:
        self.integration = integration
        self._credentials = credentials
        self._client = client
        api = (integration.api_base_url or "https://api.github.com").rstrip("/")
        # GHES serves GraphQL at /api/graphql next to the REST /api/v3
        self._url = api[: -len("/v3")] + "/graphql" if api.endswith("/api/v3") else api + "/graphql"

    @property
    def web_base(self) -> str:
        """`https://<host>` (http for a loopback host)."""
        host = self.integration.host
        scheme = "http" if host.startswith(("127.0.0.1", "localhost")) else "https"
        return f"{scheme}://{host}"

    async def token_type(self, org: str) -> str | None:
        """`app`, `token` or None for the org's credentials.

        Args:
            org: the organisation's login.
        """
        return (await self._credentials.get_credentials(f"{self.web_base}/{org}")).type

    async def query(self, org: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        """Run a query with the org's credentials; its `data`.

        Args:
            org: the organisation whose credentials are used.
            query: the GraphQL document.
            variables: its variables.

        Raises:
            NotAllowedError: GitHub refused the token or answered with errors.
            ServiceUnavailableError: GitHub could not be reached or failed.
        """
        credentials = await self._credentials.get_credentials(f"{self.web_base}/{org}")
        try:
            response = await self._client.post(
                self._url,
                json={"query": query, "variables": variables},
                headers=credentials.headers,
            )
        except httpx.HTTPError as error:
            raise ServiceUnavailableError(f"GitHub GraphQL at {self._url}: {error}") from None
        if response.status_code >= 500:
            raise ServiceUnavailableError(f"GitHub GraphQL answered {response.status_code}")
        if response.status_code >= 400:
            raise NotAllowedError(f"GitHub GraphQL answered {response.status_code} for {org}")
        body = response.json()
        if body.get("errors"):
            messages = "; ".join(str(e.get("message")) for e in body["errors"])
            raise NotAllowedError(f"GitHub GraphQL errors for {org}: {messages}")
        data = body.get("data")
        if not isinstance(data, dict):
            raise ServiceUnavailableError("GitHub GraphQL answered without data")
        return data
