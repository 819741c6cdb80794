"""`GithubAuthenticator`: the `github` provider's side of the OAuth flow.

OAuth Apps get tokens that never expire and no refresh token: the session's refresh token
is then the access token itself, as `access-token-v2.<token>` (Backstage's form, kept in
the encrypted refresh cookie), and a refresh reads the user again with it, after checking
the session was granted the scope asked for. GitHub Apps with expiring user tokens get a
real refresh token and the `refresh_token` grant.

GitHub answers token requests with HTTP 200 even when it refuses (`error`:
`bad_verification_code`, `incorrect_client_credentials`, ...); those are
`AuthenticationError`s naming GitHub's code. An unreachable GitHub (or a 5xx) is a
`ServiceUnavailableError`. No message carries a code, a token or the client secret.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlencode

import httpx
from backstage_common.config import Config
from backstage_common.errors import AuthenticationError, InputError
from backstage_plugin_auth_node import (
    OAuthAuthenticateInput,
    OAuthAuthenticatorResult,
    OAuthLogoutInput,
    OAuthRefreshInput,
    OAuthSession,
    OAuthStartInput,
    OAuthStartResponse,
    ProfileInfo,
    send_to_provider,
)

from backstage_plugin_auth_backend_module_github_provider._profile import GithubProfile
from backstage_plugin_auth_backend_module_github_provider._settings import (
    GithubSettings,
    read_github_settings,
)

__all__ = ["ACCESS_TOKEN_PREFIX", "GithubAuthenticator", "GithubContext"]

ACCESS_TOKEN_PREFIX: Final = "access-token-v2."
_TIMEOUT: Final = httpx.Timeout(10.0)
_STATE: Final = "state"
_MAX_ERROR_TEXT: Final = 200
_API_HEADERS: Final = {
    "accept": "application/vnd.github+json",
    "user-agent": "backstage-py-auth-github-provider",
}


@dataclass(frozen=True)
class GithubContext:
    """One configured environment.

    Args:
        settings: the environment's settings.
    """

    settings: GithubSettings


def _short(value: object) -> str:
    text = str(value)
    return text if len(text) <= _MAX_ERROR_TEXT else text[:_MAX_ERROR_TEXT] + "..."


def _refusal(what: str, body: Mapping[str, Any]) -> AuthenticationError:
    detail = _short(body["error"])
    description = body.get("error_description")
    if isinstance(description, str) and description:
        detail += f" ({_short(description)})"
    return AuthenticationError(f"GitHub refused {what}: {detail}")


def _optional_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _scope(value: object) -> str:
    """GitHub lists granted scopes comma-separated; the flow speaks space-separated."""
    if not isinstance(value, str):
        return ""
    return " ".join(part for part in value.replace(",", " ").split() if part)


class GithubAuthenticator:
    """Signs people in with GitHub or a GitHub Enterprise Server (`auth.providers.github`).

    Args:
        http: the HTTP client for GitHub (closed by its owner).
    """

    should_persist_scopes: bool = True
    always_scopes: Sequence[str] = ("read:user",)

    def __init__(self, *, http: httpx.AsyncClient) -> None:
        self._http = http

    async def initialize(self, *, callback_url: str, config: Config) -> GithubContext:
        """Read the environment's settings.

        Args:
            callback_url: the environment's callback URL (used per request, not stored).
            config: the environment's block, `auth.providers.github.<env>`.
        """
        return GithubContext(settings=read_github_settings(config))

    async def start(self, input: OAuthStartInput, ctx: GithubContext) -> OAuthStartResponse:
        """GitHub's authorize URL for the requested scope and the Backstage state.

        Args:
            input: scope, state and callback URL.
            ctx: the environment's context.
        """
        params = {
            "response_type": "code",
            "client_id": ctx.settings.client_id,
            "redirect_uri": input.callback_url,
            "scope": input.scope,
            "state": input.state,
        }
        return OAuthStartResponse(
            url=f"{ctx.settings.endpoints.authorize}?{urlencode(params)}",
            transient={_STATE: input.state},
        )

    async def _send(self, request: httpx.Request, what: str) -> httpx.Response:
        return await send_to_provider(self._http, request, provider="GitHub", what=what)

    async def _token_request(
        self, ctx: GithubContext, form: Mapping[str, str], what: str
    ) -> Mapping[str, Any]:
        settings = ctx.settings
        request = self._http.build_request(
            "POST",
            settings.endpoints.token,
            data={**form, "client_id": settings.client_id, "client_secret": settings.client_secret},
            headers={"accept": "application/json", "user-agent": _API_HEADERS["user-agent"]},
            timeout=_TIMEOUT,
        )
        response = await self._send(request, what)
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise AuthenticationError(
                f"GitHub answered {what} with status {response.status_code} and no token"
            )
        if "error" in body:
            raise _refusal(what, body)
        if response.status_code != 200 or not isinstance(body.get("access_token"), str):
            raise AuthenticationError(f"GitHub answered {what} without an access token")
        return body

    async def fetch_profile(self, ctx: GithubContext, access_token: str) -> GithubProfile:
        """The token's user, from the authenticated-user endpoint.

        Args:
            ctx: the environment's context.
            access_token: a user access token.
        """
        request = self._http.build_request(
            "GET",
            ctx.settings.endpoints.user,
            headers={**_API_HEADERS, "authorization": f"Bearer {access_token}"},
            timeout=_TIMEOUT,
        )
        response = await self._send(request, "the user request")
        if response.status_code == 401:
            raise AuthenticationError("Invalid access token")
        if response.status_code != 200:
            raise AuthenticationError(
                f"GitHub's user endpoint answered with status {response.status_code}"
            )
        try:
            data = response.json()
        except ValueError:
            data = None
        return GithubProfile.from_user_json(data)

    async def _result(
        self, ctx: GithubContext, body: Mapping[str, Any], *, scope: str
    ) -> OAuthAuthenticatorResult[GithubProfile]:
        access_token: str = body["access_token"]
        profile = await self.fetch_profile(ctx, access_token)
        refresh_token = body.get("refresh_token")
        expires_in = _optional_int(body.get("expires_in"))
        if not isinstance(refresh_token, str) or not refresh_token:
            refresh_token = None
        if refresh_token is None and expires_in is None:
            # An OAuth App's token does not expire: the session lives on it.
            refresh_token = ACCESS_TOKEN_PREFIX + access_token
        session = OAuthSession(
            access_token=access_token,
            token_type=str(body.get("token_type") or "bearer"),
            scope=_scope(body.get("scope")) or scope,
            expires_in_seconds=expires_in,
            refresh_token=refresh_token,
            refresh_token_expires_in_seconds=_optional_int(body.get("refresh_token_expires_in")),
        )
        return OAuthAuthenticatorResult(full_profile=profile, session=session)

    async def authenticate(
        self, input: OAuthAuthenticateInput, ctx: GithubContext
    ) -> OAuthAuthenticatorResult[GithubProfile]:
        """Trade the callback's code for a token and read the user.

        Args:
            input: the callback's query, the callback URL and the flow's transient values.
            ctx: the environment's context.
        """
        query = input.query
        if query.get("error"):
            raise _refusal("the sign-in", query)
        expected_state = input.transient.get(_STATE)
        if expected_state is None or not hmac.compare_digest(
            query.get("state", "").encode(), expected_state.encode()
        ):
            raise AuthenticationError("The sign-in response does not belong to this sign-in flow")
        code = query.get("code")
        if not code:
            raise InputError("The sign-in response carries no authorization code")
        form = {"code": code, "redirect_uri": input.callback_url}
        body = await self._token_request(ctx, form, "the authorization code")
        return await self._result(ctx, body, scope="")

    async def refresh(
        self, input: OAuthRefreshInput, ctx: GithubContext
    ) -> OAuthAuthenticatorResult[GithubProfile]:
        """Re-read the user with an OAuth App's token, or refresh a GitHub App's.

        Args:
            input: the refresh token (or `access-token-v2.<token>`) and the scope asked for.
            ctx: the environment's context.
        """
        if input.refresh_token.startswith(ACCESS_TOKEN_PREFIX):
            if not input.scope_already_granted:
                raise AuthenticationError(
                    "Refresh failed, session has not been granted the requested scope"
                )
            access_token = input.refresh_token[len(ACCESS_TOKEN_PREFIX) :]
            profile = await self.fetch_profile(ctx, access_token)
            session = OAuthSession(
                access_token=access_token,
                token_type="bearer",
                scope=input.scope,
                refresh_token=input.refresh_token,
            )
            return OAuthAuthenticatorResult(full_profile=profile, session=session)
        form = {"grant_type": "refresh_token", "refresh_token": input.refresh_token}
        body = await self._token_request(ctx, form, "the refresh token")
        return await self._result(ctx, body, scope=input.scope)

    async def logout(self, input: OAuthLogoutInput, ctx: GithubContext) -> str | None:
        """Nothing to do at GitHub: the flow clears the cookies (as in Backstage).

        Args:
            input: the refresh token, if the browser had one.
            ctx: the environment's context.
        """
        return None

    async def default_profile_transform(
        self, result: OAuthAuthenticatorResult[GithubProfile], ctx: GithubContext
    ) -> ProfileInfo:
        """Email, avatar and name (the login, or the id, when the user set no name).

        Args:
            result: what `authenticate` or `refresh` returned.
            ctx: the environment's context.
        """
        profile = result.full_profile
        return ProfileInfo(
            email=profile.email,
            picture=profile.avatar_url,
            display_name=profile.display_name or profile.username or profile.id,
        )
