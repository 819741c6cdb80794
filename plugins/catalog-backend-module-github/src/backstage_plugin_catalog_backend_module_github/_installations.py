"""The organisations a GitHub App is installed on, for providers configured without a list
of organisations (`app` in discovery, no `orgs` in githubOrg)."""

from __future__ import annotations

import time

import httpx
import jwt
from backstage_integration import GithubIntegrationConfig, github_pages

__all__ = ["app_organizations"]

_APP_ACCEPT = "application/vnd.github+json"


def _app_jwt(app_id: int, private_key: str) -> str:
    issued = int(time.time()) - 60  # GitHub's advice against clock drift
    claims = {"iat": issued, "exp": issued + 540, "iss": str(app_id)}
    return jwt.encode(claims, private_key, algorithm="RS256")


async def app_organizations(
    client: httpx.AsyncClient, integration: GithubIntegrationConfig, app_id: int | None = None
) -> list[str]:
    """The logins of the organisations the integration's Apps (or the one App) are installed
    on, in the order GitHub lists them; suspended installations and user accounts are left
    out.

    Args:
        client: the HTTP client.
        integration: the GitHub host's integration.
        app_id: only this App; None: every App of the integration.

    Raises:
        NotAllowedError: GitHub refused the App's JWT.
    """
    logins: dict[str, None] = {}
    api = (integration.api_base_url or "https://api.github.com").rstrip("/")
    for app in integration.apps:
        if app_id is not None and app.app_id != app_id:
            continue
        headers = {
            "Authorization": f"Bearer {_app_jwt(app.app_id, app.private_key)}",
            "Accept": _APP_ACCEPT,
        }
        url = f"{api}/app/installations?per_page=100"
        async for installation in github_pages(client, url, headers):
            account = installation.get("account") or {}
            if installation.get("target_type") != "Organization":
                continue
            if installation.get("suspended_at") or installation.get("suspended_by"):
                continue
            if isinstance(account.get("login"), str):
                logins[account["login"]] = None
    return list(logins)
