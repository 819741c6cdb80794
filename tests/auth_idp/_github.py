"""A loopback GitHub: the OAuth App endpoints and the user endpoint GitHub documents.

`start_loopback_github()` serves, on a free port of 127.0.0.1 (granian, as the backend
serves its own app):

- `GET /login/oauth/authorize`: the user (`LoopbackGithub.user`) has authorised the app
  already, so GitHub redirects straight back to `redirect_uri` with `code` and `state`; an
  unknown `client_id` is GitHub's 404 page, a `redirect_uri` outside the app's callback URL
  redirects with `error=redirect_uri_mismatch`, and `deny_next` makes the next one answer
  `error=access_denied` as when the user cancels.
- `POST /login/oauth/access_token`: the code (single use, ten minutes, bound to its client
  and redirect URI) for a token, answered as a form or as JSON (`Accept: application/json`);
  failures are 200s carrying `error` (`bad_verification_code`,
  `incorrect_client_credentials`, `redirect_uri_mismatch`), as GitHub answers them. With
  `expiring_tokens`, tokens expire and come with a refresh token, as a GitHub App's do.
- `GET /api/v3/user` (GitHub Enterprise Server) and `GET /user` (the `api.` host form): the
  user JSON for `Authorization: token <t>` or `Bearer <t>`, with `X-OAuth-Scopes`; any
  other token is 401 `Bad credentials`.
"""

from __future__ import annotations

import secrets
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from backstage_backend_defaults.http_router import HttpServer, ListenOptions
from litestar import Litestar, Request, Response, get, post
from litestar.status_codes import HTTP_200_OK, HTTP_302_FOUND, HTTP_401_UNAUTHORIZED

__all__ = ["GithubApp", "GithubUser", "LoopbackGithub", "start_loopback_github"]

CODE_LIFETIME_SECONDS = 600


@dataclass(frozen=True)
class GithubUser:
    """The signed-in GitHub user, as `/user` describes them."""

    login: str = "octo-jane"
    id: int = 4242
    node_id: str = "MDQ6VXNlcjQyNDI="
    name: str | None = "Jane Octo"
    email: str | None = "jane@example.com"
    avatar_url: str = "https://avatars.example.com/u/4242"

    def as_json(self, base_url: str) -> dict[str, Any]:
        return {
            "login": self.login,
            "id": self.id,
            "node_id": self.node_id,
            "avatar_url": self.avatar_url,
            "gravatar_id": "",
            "url": f"{base_url}/api/v3/users/{self.login}",
            "html_url": f"{base_url}/{self.login}",
            "type": "User",
            "site_admin": False,
            "name": self.name,
            "company": None,
            "blog": "",
            "location": None,
            "email": self.email,
            "hireable": None,
            "bio": None,
            "public_repos": 3,
            "followers": 0,
            "following": 0,
            "created_at": "2020-01-01T00:00:00Z",
            "updated_at": "2024-01-01T00:00:00Z",
        }


@dataclass(frozen=True)
class GithubApp:
    """A registered OAuth App: its credentials and its authorisation callback URL."""

    client_id: str
    client_secret: str
    callback_url: str


@dataclass
class _Grant:
    client_id: str
    redirect_uri: str
    scope: str
    user: GithubUser
    expires_at: float


@dataclass
class LoopbackGithub:
    """The state of the loopback GitHub: apps, the signed-in user, codes and tokens."""

    apps: dict[str, GithubApp] = field(default_factory=dict)
    user: GithubUser = field(default_factory=GithubUser)
    base_url: str = ""
    deny_next: bool = False
    """The next authorisation is cancelled by the user (`error=access_denied`)."""
    expiring_tokens: bool = False
    """Tokens as a GitHub App with expiring user tokens issues them: `expires_in` and a
    refresh token (`grant_type=refresh_token` trades it, once)."""
    refuse_user_endpoint: bool = False
    """`/user` refuses every token (401), as for a token GitHub no longer honours."""
    refresh_tokens: dict[str, tuple[GithubUser, str]] = field(default_factory=dict)
    codes: dict[str, _Grant] = field(default_factory=dict)
    tokens: dict[str, tuple[GithubUser, str]] = field(default_factory=dict)
    """Issued access tokens: the user and the granted scope."""
    token_requests: int = 0
    user_requests: int = 0

    def register(self, app: GithubApp) -> None:
        self.apps[app.client_id] = app

    def revoke_all_tokens(self) -> None:
        """The user revokes the app's tokens: `/user` refuses them from now on."""
        self.tokens.clear()

    def issue_code(self, client_id: str, redirect_uri: str, scope: str) -> str:
        """A code as the authorize endpoint would hand out (for tests that skip it)."""
        code = secrets.token_hex(10)
        self.codes[code] = _Grant(
            client_id, redirect_uri, scope, self.user, time.time() + CODE_LIFETIME_SECONDS
        )
        return code


def _redirect(location: str) -> Response[None]:
    return Response(None, status_code=HTTP_302_FOUND, headers={"Location": location})


def _within_callback(redirect_uri: str, callback_url: str) -> bool:
    """GitHub's rule: same scheme, host and port, and a path at or below the callback's."""
    given, registered = urlsplit(redirect_uri), urlsplit(callback_url)
    return (given.scheme, given.netloc) == (registered.scheme, registered.netloc) and (
        given.path + "/"
    ).startswith(registered.path.rstrip("/") + "/")


def _token_answer(request: Request[Any, Any, Any], body: dict[str, str]) -> Response[Any]:
    if "application/json" in request.headers.get("accept", ""):
        return Response(body, status_code=HTTP_200_OK, media_type="application/json")
    return Response(
        urlencode(body),
        status_code=HTTP_200_OK,
        media_type="application/x-www-form-urlencoded; charset=utf-8",
    )


def _token_error(error: str, description: str) -> dict[str, str]:
    return {
        "error": error,
        "error_description": description,
        "error_uri": "https://docs.github.com/apps/troubleshooting-oauth-app-access-token-request-errors",
    }


def _exchange(state: LoopbackGithub, form: dict[str, Any]) -> dict[str, str]:
    """The token endpoint's answer to a code exchange, an error body when refused."""
    app = state.apps.get(str(form.get("client_id", "")))
    if app is None or not secrets.compare_digest(
        str(form.get("client_secret", "")), app.client_secret
    ):
        return _token_error(
            "incorrect_client_credentials",
            "The client_id and/or client_secret passed are incorrect.",
        )
    if form.get("grant_type") == "refresh_token":
        refreshed = state.refresh_tokens.pop(str(form.get("refresh_token", "")), None)
        if refreshed is None:
            return _token_error("bad_refresh_token", "The refresh token passed is incorrect.")
        return _issue(state, *refreshed)
    # A code is spent by any attempt to use it, as GitHub does.
    grant = state.codes.pop(str(form.get("code", "")), None)
    if grant is None or grant.client_id != app.client_id or grant.expires_at < time.time():
        return _token_error("bad_verification_code", "The code passed is incorrect or expired.")
    redirect_uri = form.get("redirect_uri")
    if redirect_uri is not None and redirect_uri != grant.redirect_uri:
        return _token_error(
            "redirect_uri_mismatch",
            "The redirect_uri MUST match the registered callback URL for this application.",
        )
    return _issue(state, grant.user, grant.scope)


def _issue(state: LoopbackGithub, user: GithubUser, scope: str) -> dict[str, str]:
    token = ("ghu_" if state.expiring_tokens else "gho_") + secrets.token_urlsafe(27)
    state.tokens[token] = (user, scope)
    answer = {"access_token": token, "token_type": "bearer", "scope": scope}
    if state.expiring_tokens:
        refresh_token = "ghr_" + secrets.token_urlsafe(54)
        state.refresh_tokens[refresh_token] = (user, scope)
        answer |= {
            "expires_in": "28800",
            "refresh_token": refresh_token,
            "refresh_token_expires_in": "15811200",
        }
    return answer


def _app(state: LoopbackGithub) -> Litestar:
    @get("/login/oauth/authorize")
    async def authorize(request: Request[Any, Any, Any]) -> Response[Any]:
        query = request.query_params
        app = state.apps.get(query.get("client_id", ""))
        if app is None:
            return Response("Not Found", status_code=404, media_type="text/plain")
        redirect_uri = query.get("redirect_uri") or app.callback_url
        oauth_state = query.get("state", "")
        if not _within_callback(redirect_uri, app.callback_url):
            error = {
                "error": "redirect_uri_mismatch",
                "error_description": "The redirect_uri MUST match the registered callback URL "
                "for this application.",
                "state": oauth_state,
            }
            return _redirect(f"{app.callback_url}?{urlencode(error)}")
        if state.deny_next:
            state.deny_next = False
            denied = {
                "error": "access_denied",
                "error_description": "The user has denied your application access.",
                "state": oauth_state,
            }
            return _redirect(f"{redirect_uri}?{urlencode(denied)}")
        code = state.issue_code(app.client_id, redirect_uri, query.get("scope", ""))
        return _redirect(f"{redirect_uri}?{urlencode({'code': code, 'state': oauth_state})}")

    @post("/login/oauth/access_token", status_code=HTTP_200_OK)
    async def access_token(request: Request[Any, Any, Any]) -> Response[Any]:
        state.token_requests += 1
        content_type = request.headers.get("content-type", "")
        form: dict[str, Any] = (
            dict(await request.json())
            if content_type.startswith("application/json")
            else dict(await request.form())
        )
        return _token_answer(request, _exchange(state, form))

    def user_answer(request: Request[Any, Any, Any]) -> Response[Any]:
        state.user_requests += 1
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        issued = state.tokens.get(token) if scheme.lower() in ("token", "bearer") else None
        if issued is None or state.refuse_user_endpoint:
            return Response(
                {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"},
                status_code=HTTP_401_UNAUTHORIZED,
            )
        user, scope = issued
        return Response(
            user.as_json(state.base_url),
            headers={"X-OAuth-Scopes": scope, "X-Accepted-OAuth-Scopes": ""},
        )

    @get("/api/v3/user")
    async def enterprise_user(request: Request[Any, Any, Any]) -> Response[Any]:
        return user_answer(request)

    @get("/user")
    async def api_host_user(request: Request[Any, Any, Any]) -> Response[Any]:
        return user_answer(request)

    return Litestar(
        route_handlers=[authorize, access_token, enterprise_user, api_host_user],
        logging_config=None,
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@asynccontextmanager
async def start_loopback_github(*apps: GithubApp) -> AsyncIterator[LoopbackGithub]:
    """Serve a loopback GitHub with `apps` registered until the block ends."""
    state = LoopbackGithub()
    for app in apps:
        state.register(app)
    port = _free_port()
    state.base_url = f"http://127.0.0.1:{port}"
    server = HttpServer(_app(state), ListenOptions(host="127.0.0.1", port=port))
    await server.start()
    try:
        yield state
    finally:
        await server.stop()
