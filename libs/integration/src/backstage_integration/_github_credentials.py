"""Credentials for GitHub requests: GitHub App installation tokens, else the configured token.

An App proves itself with a JWT (RS256, PyJWT) and trades it for an installation token of the
organisation that owns the repository. Tokens are kept until ten minutes before they expire,
in the caller's cache (a plugin's `core.cache`, so every replica of a plugin shares them and
GitHub mints one per organisation, not one per process); the installation list is kept in
memory for ten minutes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

import httpx
import jwt
from backstage_common.errors import InputError, NotAllowedError, NotFoundError

from backstage_integration._config import GithubAppConfig, GithubIntegrationConfig
from backstage_integration._pages import github_pages
from backstage_integration._registry import IntegrationGroup
from backstage_integration._urls import parse_github_url

__all__ = ["GithubCredentials", "GithubCredentialsProvider", "TokenCache"]

_JWT_BACKDATE = 30
_JWT_LIFETIME = 600
_REFRESH_MARGIN = 600
_INSTALLATIONS_TTL = 600
_INSTALLATIONS_MISS_RETRY = 60
_APP_ACCEPT = "application/vnd.github.machine-man-preview+json"


class TokenCache(Protocol):
    """Where installation tokens are shared: `core.cache` fits.

    Values are JSON; `ttl` is in milliseconds.
    """

    async def get(self, key: str) -> Any: ...

    async def set(self, key: str, value: Any, *, ttl: float | None = None) -> None: ...


@dataclass(frozen=True, slots=True)
class GithubCredentials:
    """What to send to GitHub for a URL.

    Args:
        type: `app` (an installation token or App JWT), `token` (the configured token) or
            None (anonymous).
        token: the token, or None.
    """

    type: Literal["app", "token"] | None
    token: str | None = field(repr=False, default=None)

    @property
    def headers(self) -> dict[str, str]:
        """`Authorization: Bearer <token>`, or nothing when anonymous."""
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}


def _expiry(value: object) -> float:
    if not isinstance(value, str):
        raise InputError("GitHub answered an installation token without expires_at")
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


class _AppTokens:
    """Installation tokens of one App on one GitHub host."""

    def __init__(
        self,
        app: GithubAppConfig,
        api_base_url: str,
        client: httpx.AsyncClient,
        cache: TokenCache | None,
        clock: Callable[[], float],
    ) -> None:
        self._app = app
        self._api = api_base_url
        self._client = client
        self._cache = cache
        self._clock = clock
        self._installations: list[dict[str, Any]] | None = None
        self._installations_at = 0.0
        self._installations_lock = asyncio.Lock()
        self._local: dict[str, dict[str, Any]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    @property
    def app(self) -> GithubAppConfig:
        return self._app

    def app_jwt(self) -> str:
        issued = int(self._clock()) - _JWT_BACKDATE
        claims = {"iat": issued, "exp": issued + _JWT_LIFETIME, "iss": str(self._app.app_id)}
        return jwt.encode(claims, self._app.private_key, algorithm="RS256")

    def _app_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.app_jwt()}", "Accept": _APP_ACCEPT}

    async def _list_installations(self) -> list[dict[str, Any]]:
        url = f"{self._api}/app/installations?per_page=100"
        return [item async for item in github_pages(self._client, url, self._app_headers())]

    async def _installation(self, owner: str) -> dict[str, Any]:
        async with self._installations_lock:
            now = self._clock()
            age = now - self._installations_at
            stale = self._installations is None or age > _INSTALLATIONS_TTL
            found = self._find(owner)
            if stale or (found is None and age > _INSTALLATIONS_MISS_RETRY):
                self._installations = await self._list_installations()
                self._installations_at = now
                found = self._find(owner)
        if found is None:
            raise NotFoundError(f"No app installation found for {owner} in {self._app.app_id}")
        if found.get("suspended_by"):
            raise NotAllowedError(
                f"The GitHub App {self._app.app_id} installation for {owner} is suspended"
            )
        return found

    def _find(self, owner: str) -> dict[str, Any] | None:
        for installation in self._installations or []:
            login = (installation.get("account") or {}).get("login")
            if isinstance(login, str) and login.lower() == owner.lower():
                return installation
        return None

    def _key(self, owner: str) -> str:
        host = self._api.split("://", 1)[-1]
        return f"github-app-token:{host}:{self._app.app_id}:{owner.lower()}"

    async def token(self, owner: str, repo: str | None) -> str | None:
        allowed = self._app.allowed_installation_owners
        if allowed is not None and owner.lower() not in allowed:
            return None
        key = self._key(owner)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            entry = await self._cached(key)
            if entry is None:
                entry = await self._mint(owner)
                await self._store(key, entry)
        repositories = entry.get("repositories")
        if repo is not None and isinstance(repositories, list) and repo not in repositories:
            raise NotAllowedError(
                f"The GitHub App {self._app.app_id} installation for {owner} does not have "
                f"access to a repository with the name {repo}"
            )
        return str(entry["token"])

    def _fresh(self, entry: object) -> dict[str, Any] | None:
        if not isinstance(entry, dict) or float(entry.get("refresh_at", 0)) <= self._clock():
            return None
        return entry

    async def _cached(self, key: str) -> dict[str, Any] | None:
        entry = self._fresh(self._local.get(key))
        if entry is None and self._cache is not None:
            # another replica may have renewed it already
            entry = self._fresh(await self._cache.get(key))
        if entry is not None:
            self._local[key] = entry
        return entry

    async def _store(self, key: str, entry: dict[str, Any]) -> None:
        self._local[key] = entry
        if self._cache is not None:
            ttl_ms = max(0.0, float(entry["refresh_at"]) - self._clock()) * 1000
            await self._cache.set(key, entry, ttl=ttl_ms)

    async def _mint(self, owner: str) -> dict[str, Any]:
        installation = await self._installation(owner)
        installation_id = int(installation["id"])
        response = await self._client.post(
            f"{self._api}/app/installations/{installation_id}/access_tokens",
            headers=self._app_headers(),
        )
        if response.status_code in (404, 410):
            self._installations = None
        if response.status_code >= 400:
            raise NotAllowedError(
                f"GitHub refused an installation token for {owner} of App {self._app.app_id}: "
                f"{response.status_code} {response.reason_phrase}"
            )
        body = response.json()
        token = str(body["token"])
        entry: dict[str, Any] = {
            "token": token,
            "refresh_at": _expiry(body.get("expires_at")) - _REFRESH_MARGIN,
        }
        if body.get("repository_selection") == "selected":
            url = f"{self._api}/installation/repositories?per_page=100"
            headers = {"Authorization": f"token {token}"}
            entry["repositories"] = [
                str(item["name"])
                async for item in github_pages(self._client, url, headers, "repositories")
            ]
        return entry

    async def first_installation_token(self) -> str | None:
        async with self._installations_lock:
            if self._installations is None:
                self._installations = await self._list_installations()
                self._installations_at = self._clock()
        if not self._installations:
            return None
        login = (self._installations[0].get("account") or {}).get("login")
        return await self.token(str(login), None) if login else None


class GithubCredentialsProvider:
    """Credentials for any URL of the configured GitHub hosts.

    Every App of the URL's host is asked for an installation token of the URL's owner; the
    first one found wins. Then an App with `publicAccess` lends its first installation's
    token; then the integration's `token`; else the request is anonymous.
    """

    def __init__(
        self,
        integrations: IntegrationGroup[GithubIntegrationConfig],
        client: httpx.AsyncClient,
        cache: TokenCache | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Args:
        integrations: the GitHub integrations.
        client: the HTTP client GitHub is called with.
        cache: where installation tokens are shared, e.g. a plugin's `core.cache`.
        clock: seconds since the epoch (tests move time with it).
        """
        self._integrations = integrations
        self._apps: dict[str, list[_AppTokens]] = {}
        for integration in integrations.entries:
            if integration.apps and integration.api_base_url is None:
                raise InputError(
                    f"The GitHub integration for {integration.host} has apps but no apiBaseUrl"
                )
            self._apps[integration.host] = [
                _AppTokens(app, integration.api_base_url or "", client, cache, clock)
                for app in integration.apps
            ]

    async def get_credentials(self, url: str) -> GithubCredentials:
        """The credentials to read `url` with.

        Args:
            url: a GitHub URL (`https://<host>/<owner>[/<repo>/...]`).

        Raises:
            InputError: no GitHub integration has the URL's host.
            NotAllowedError: an App's installation is suspended, refused a token, or does
                not cover the repository.
        """
        integration = self._integrations.by_url(url)
        if integration is None:
            raise InputError(f"There is no GitHub integration that matches {url}")
        parsed = parse_github_url(url)
        owner, repo = parsed.owner, parsed.repo
        apps = self._apps[integration.host]
        results = await asyncio.gather(
            *(app.token(owner, repo) for app in apps), return_exceptions=True
        )
        for result in results:
            if isinstance(result, str):
                return GithubCredentials("app", result)
        for app in apps:
            if app.app.public_access:
                token = await app.first_installation_token()
                if token:
                    return GithubCredentials("app", token)
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, NotFoundError):
                raise result
        if integration.token:
            return GithubCredentials("token", integration.token)
        return GithubCredentials(None)
