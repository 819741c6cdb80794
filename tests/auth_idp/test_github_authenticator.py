"""The `github` authenticator against a loopback GitHub (`_github.py`) reached as a GitHub
Enterprise Server through `enterpriseInstanceUrl`.

The flow runs as a browser would (authorize, redirect back); the test takes the callback
URL's query and hands it to `authenticate`, as the auth plugin's callback route does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from backstage_common.config import Config
from backstage_common.errors import AuthenticationError, InputError, ServiceUnavailableError
from backstage_plugin_auth_backend_module_github_provider import (
    ACCESS_TOKEN_PREFIX,
    GithubAuthenticator,
    GithubContext,
)
from backstage_plugin_auth_node import (
    OAuthAuthenticateInput,
    OAuthRefreshInput,
    OAuthStartInput,
)

from ._browser import browse
from ._github import GithubApp, GithubUser, LoopbackGithub, start_loopback_github

CALLBACK = "http://127.0.0.1:9/api/auth/github/handler/frame"
APP = GithubApp("Iv1.backstage", "github-app-secret", CALLBACK)


@dataclass
class Setup:
    github: LoopbackGithub
    http: httpx.AsyncClient

    async def context(self, **overrides: Any) -> tuple[GithubAuthenticator, GithubContext]:
        authenticator = GithubAuthenticator(http=self.http)
        config = {
            "clientId": APP.client_id,
            "clientSecret": APP.client_secret,
            "enterpriseInstanceUrl": self.github.base_url + "/",
            **overrides,
        }
        config = {key: value for key, value in config.items() if value is not None}
        context = await authenticator.initialize(
            callback_url=CALLBACK, config=Config.from_data(config, "test")
        )
        return authenticator, context


@pytest.fixture
async def setup() -> AsyncIterator[Setup]:
    async with start_loopback_github(APP) as github, httpx.AsyncClient() as http:
        yield Setup(github, http)


async def _callback(
    authenticator: GithubAuthenticator,
    context: GithubContext,
    *,
    scope: str = "read:user",
    state: str = "backstage-state",
) -> tuple[dict[str, str], Mapping[str, str]]:
    started = await authenticator.start(
        OAuthStartInput(scope=scope, state=state, callback_url=CALLBACK), context
    )
    async with httpx.AsyncClient() as browser:
        stop = await browse(browser, started.url, stop_at=CALLBACK)
    assert stop.url is not None, stop.response and stop.response.text
    return dict(parse_qsl(urlsplit(stop.url).query)), started.transient


def _input(query: Mapping[str, str], transient: Mapping[str, str]) -> OAuthAuthenticateInput:
    return OAuthAuthenticateInput(query=query, callback_url=CALLBACK, transient=transient)


async def test_authorize_url_on_the_enterprise_instance(setup: Setup) -> None:
    authenticator, context = await setup.context()
    started = await authenticator.start(
        OAuthStartInput(scope="read:user repo", state="s-1", callback_url=CALLBACK), context
    )
    url = urlsplit(started.url)
    assert f"{url.scheme}://{url.netloc}{url.path}" == (
        f"{setup.github.base_url}/login/oauth/authorize"
    )
    params = dict(parse_qsl(url.query))
    assert params == {
        "response_type": "code",
        "client_id": APP.client_id,
        "redirect_uri": CALLBACK,
        "scope": "read:user repo",
        "state": "s-1",
    }
    assert authenticator.always_scopes == ("read:user",)
    assert authenticator.should_persist_scopes


async def test_github_com_without_an_enterprise_instance(setup: Setup) -> None:
    authenticator, context = await setup.context(enterpriseInstanceUrl=None)
    started = await authenticator.start(
        OAuthStartInput(scope="read:user", state="s", callback_url=CALLBACK), context
    )
    assert started.url.startswith("https://github.com/login/oauth/authorize?")
    assert context.settings.endpoints.token == "https://github.com/login/oauth/access_token"
    assert context.settings.endpoints.user == "https://api.github.com/user"


async def test_oauth_app_sign_in_and_refresh(setup: Setup) -> None:
    authenticator, context = await setup.context()
    query, transient = await _callback(authenticator, context, scope="read:user repo")
    result = await authenticator.authenticate(_input(query, transient), context)

    session = result.session
    assert session.access_token in setup.github.tokens
    assert session.refresh_token == ACCESS_TOKEN_PREFIX + session.access_token
    assert session.expires_in_seconds is None
    assert session.scope == "read:user repo"
    profile = result.full_profile
    assert (profile.username, profile.id, profile.node_id) == (
        "octo-jane",
        "4242",
        "MDQ6VXNlcjQyNDI=",
    )
    shown = await authenticator.default_profile_transform(result, context)
    assert shown.email == "jane@example.com"
    assert shown.picture == "https://avatars.example.com/u/4242"
    assert shown.display_name == "Jane Octo"

    reads = setup.github.user_requests
    refreshed = await authenticator.refresh(
        OAuthRefreshInput(refresh_token=session.refresh_token, scope="read:user"), context
    )
    assert setup.github.user_requests == reads + 1  # the user is read again with the token
    assert refreshed.session.access_token == session.access_token
    assert refreshed.session.refresh_token == session.refresh_token
    assert refreshed.session.scope == "read:user"
    assert refreshed.full_profile.username == "octo-jane"

    with pytest.raises(AuthenticationError, match="not been granted the requested scope"):
        await authenticator.refresh(
            OAuthRefreshInput(
                refresh_token=session.refresh_token,
                scope="read:user admin:org",
                scope_already_granted=False,
            ),
            context,
        )

    setup.github.revoke_all_tokens()
    with pytest.raises(AuthenticationError, match="Invalid access token"):
        await authenticator.refresh(
            OAuthRefreshInput(refresh_token=session.refresh_token, scope="read:user"), context
        )


async def test_display_name_falls_back_to_the_login(setup: Setup) -> None:
    setup.github.user = GithubUser(name=None, email=None)
    authenticator, context = await setup.context()
    query, transient = await _callback(authenticator, context)
    result = await authenticator.authenticate(_input(query, transient), context)
    shown = await authenticator.default_profile_transform(result, context)
    assert shown.display_name == "octo-jane"
    assert shown.email is None


async def test_github_app_expiring_tokens_refresh_with_the_grant(setup: Setup) -> None:
    setup.github.expiring_tokens = True
    authenticator, context = await setup.context()
    query, transient = await _callback(authenticator, context)
    result = await authenticator.authenticate(_input(query, transient), context)
    assert result.session.expires_in_seconds == 28800
    assert result.session.refresh_token is not None
    assert result.session.refresh_token.startswith("ghr_")
    assert result.session.refresh_token_expires_in_seconds == 15811200

    refreshed = await authenticator.refresh(
        OAuthRefreshInput(refresh_token=result.session.refresh_token, scope="read:user"),
        context,
    )
    assert refreshed.session.access_token != result.session.access_token
    assert refreshed.session.refresh_token != result.session.refresh_token
    with pytest.raises(AuthenticationError, match="bad_refresh_token"):
        await authenticator.refresh(
            OAuthRefreshInput(refresh_token=result.session.refresh_token, scope="read:user"),
            context,
        )


async def test_bad_and_replayed_codes_are_refused(setup: Setup) -> None:
    authenticator, context = await setup.context()
    query, transient = await _callback(authenticator, context)
    with pytest.raises(AuthenticationError, match="bad_verification_code"):
        await authenticator.authenticate(_input({**query, "code": "made-up"}, transient), context)
    # The made-up code did not spend the real one.
    await authenticator.authenticate(_input(query, transient), context)
    with pytest.raises(AuthenticationError, match="bad_verification_code"):
        await authenticator.authenticate(_input(query, transient), context)


async def test_wrong_client_secret_is_refused(setup: Setup) -> None:
    authenticator, context = await setup.context(clientSecret="not-the-secret")
    query, transient = await _callback(authenticator, context)
    with pytest.raises(AuthenticationError, match="incorrect_client_credentials"):
        await authenticator.authenticate(_input(query, transient), context)


async def test_a_token_the_user_endpoint_refuses(setup: Setup) -> None:
    setup.github.refuse_user_endpoint = True
    authenticator, context = await setup.context()
    query, transient = await _callback(authenticator, context)
    with pytest.raises(AuthenticationError, match="Invalid access token"):
        await authenticator.authenticate(_input(query, transient), context)


async def test_denied_or_foreign_callbacks_are_refused(setup: Setup) -> None:
    authenticator, context = await setup.context()
    setup.github.deny_next = True
    query, transient = await _callback(authenticator, context)
    with pytest.raises(AuthenticationError, match="access_denied"):
        await authenticator.authenticate(_input(query, transient), context)

    query, transient = await _callback(authenticator, context)
    with pytest.raises(AuthenticationError, match="does not belong to this sign-in flow"):
        await authenticator.authenticate(_input({**query, "state": "forged"}, transient), context)
    with pytest.raises(AuthenticationError, match="does not belong to this sign-in flow"):
        await authenticator.authenticate(_input(query, {}), context)
    with pytest.raises(InputError, match="no authorization code"):
        await authenticator.authenticate(_input({"state": query["state"]}, transient), context)
    assert setup.github.token_requests == 0  # nothing reached the token endpoint


async def test_unreachable_github_is_a_503(setup: Setup) -> None:
    authenticator, context = await setup.context(enterpriseInstanceUrl="http://127.0.0.1:9")
    with pytest.raises(ServiceUnavailableError, match="did not answer"):
        await authenticator.authenticate(
            _input({"code": "c", "state": "s"}, {"state": "s"}), context
        )
