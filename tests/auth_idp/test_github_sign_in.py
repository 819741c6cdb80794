"""Sign-in with `github` end to end against the loopback GitHub (as a GitHub Enterprise
Server, `enterpriseInstanceUrl`): the browser opens `/api/auth/github/start` on the auth
unit, GitHub redirects back to `/api/auth/github/handler/frame`, the popup page carries the
identity the `userIdMatchingUserEntityAnnotation` resolver found (the user's node id in the
`github.com/user-id` annotation), the token reads the catalog on the other unit, and
`/refresh` re-reads the GitHub user with the session kept in the refresh cookie.

A bad code and a token GitHub's user endpoint refuses end on the popup page with an error
and nothing issued.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest
import pytest_asyncio

from ._backends import APP_URL, Units, free_port, read_as, start_units
from ._browser import browse, popup_message
from ._github import GithubApp, GithubUser, LoopbackGithub, start_loopback_github

# One loopback GitHub and one pair of units for the module; every test has fresh browsers.
pytestmark = pytest.mark.asyncio(loop_scope="module")

XHR = {"X-Requested-With": "XMLHttpRequest", "Origin": APP_URL}
START = {"env": "development", "origin": APP_URL, "flow": "popup", "scope": "repo"}


@dataclass
class Setup:
    github: LoopbackGithub
    units: Units

    @property
    def callback(self) -> str:
        return f"{self.units.auth_url}/github/handler/frame"

    def start_url(self, **params: str) -> str:
        return f"{self.units.auth_url}/github/start?{urlencode({**START, **params})}"

    def refresh_url(self, **params: str) -> str:
        query = urlencode({"env": "development", **params})
        return f"{self.units.auth_url}/github/refresh?{query}"


@asynccontextmanager
async def _github_units(tmp_path: Path, resolvers: list[dict[str, Any]]) -> AsyncIterator[Setup]:
    auth_port = free_port()
    app = GithubApp(
        "Iv1.backstage",
        "github-secret",
        f"http://127.0.0.1:{auth_port}/api/auth/github/handler/frame",
    )
    async with start_loopback_github(app) as github:
        providers = {
            "github": {
                "development": {
                    "clientId": app.client_id,
                    "clientSecret": app.client_secret,
                    "enterpriseInstanceUrl": github.base_url,
                    "signIn": {"resolvers": resolvers},
                }
            }
        }
        async with start_units(tmp_path, auth_port=auth_port, providers=providers) as units:
            yield Setup(github, units)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def running(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Setup]:
    resolvers = [{"resolver": "userIdMatchingUserEntityAnnotation"}]
    async with _github_units(tmp_path_factory.mktemp("github"), resolvers) as units:
        yield units


@pytest_asyncio.fixture(loop_scope="module")
async def setup(running: Setup) -> Setup:
    """The module's loopback GitHub and units, its user and answers as at the start."""
    github = running.github
    github.user = GithubUser()
    github.refuse_user_endpoint = github.deny_next = github.expiring_tokens = False
    return running


def _refused(response: httpx.Response, text: str) -> None:
    message, origin = popup_message(response)
    assert origin == APP_URL
    assert "response" not in message, message
    assert text in message["error"]["message"], message
    cookies = response.headers.get_list("set-cookie")
    assert not [cookie for cookie in cookies if "refresh-token" in cookie], cookies


async def test_sign_in_reads_the_catalog_on_another_unit_and_refreshes(setup: Setup) -> None:
    async with httpx.AsyncClient() as browser:
        stop = await browse(browser, setup.start_url())
        assert stop.response is not None
        message, origin = popup_message(stop.response)
        assert origin == APP_URL
        response: dict[str, Any] = message["response"]
        assert response["profile"] == {
            "email": "jane@example.com",
            "picture": "https://avatars.example.com/u/4242",
            "displayName": "Jane Octo",
        }
        assert response["providerInfo"]["scope"] == "repo read:user"
        assert response["providerInfo"]["accessToken"] in setup.github.tokens
        identity = response["backstageIdentity"]
        assert identity["identity"] == {
            "type": "user",
            "userEntityRef": "user:default/octo-jane",
            "ownershipEntityRefs": ["user:default/octo-jane", "group:default/team-a"],
        }
        me = await read_as(
            setup.units, identity["token"], "/entities/by-name/user/default/octo-jane"
        )
        assert me.status_code == 200, me.text

        reads = setup.github.user_requests
        refreshed = await browser.get(setup.refresh_url(scope="read:user"), headers=XHR)
        assert refreshed.status_code == 200, refreshed.text
        assert setup.github.user_requests == reads + 1
        body = refreshed.json()
        assert body["backstageIdentity"]["identity"]["userEntityRef"] == "user:default/octo-jane"
        assert body["providerInfo"]["accessToken"] == response["providerInfo"]["accessToken"]
        again = await read_as(setup.units, body["backstageIdentity"]["token"], "/entities")
        assert again.status_code == 200, again.text

        # A scope the session was never granted is not handed out on refresh.
        wider = await browser.get(setup.refresh_url(scope="admin:org"), headers=XHR)
        assert wider.status_code == 401
        assert "not been granted the requested scope" in wider.json()["error"]["message"]

        # Once GitHub stops honouring the token, the session is over.
        setup.github.revoke_all_tokens()
        revoked = await browser.get(setup.refresh_url(), headers=XHR)
        assert revoked.status_code == 401
        assert "Invalid access token" in revoked.json()["error"]["message"]


async def test_a_bad_code_issues_nothing(setup: Setup) -> None:
    async with httpx.AsyncClient() as browser:
        started = await browser.get(setup.start_url())
        state = dict(parse_qsl(urlsplit(started.headers["location"]).query))["state"]
        response = await browser.get(setup.callback, params={"code": "made-up", "state": state})
        _refused(response, "bad_verification_code")


async def test_a_token_the_user_endpoint_refuses_issues_nothing(setup: Setup) -> None:
    setup.github.refuse_user_endpoint = True
    async with httpx.AsyncClient() as browser:
        stop = await browse(browser, setup.start_url())
        assert stop.response is not None
        _refused(stop.response, "Invalid access token")


async def test_a_github_user_the_catalog_does_not_know_is_refused(setup: Setup) -> None:
    setup.github.user = GithubUser(login="stranger", id=7, node_id="MDQ6VXNlcjc=")
    async with httpx.AsyncClient() as browser:
        stop = await browse(browser, setup.start_url())
        assert stop.response is not None
        _refused(stop.response, "Failed to sign-in")


async def test_a_node_id_matching_only_without_case_is_refused(setup: Setup) -> None:
    # The catalog's annotation filter ignores case; the resolver wants the exact id.
    setup.github.user = GithubUser(node_id="mdq6vxnlcjqynDI=")
    async with httpx.AsyncClient() as browser:
        stop = await browse(browser, setup.start_url())
        assert stop.response is not None
        _refused(stop.response, "GitHub user ID does not match the catalog user")


async def test_username_resolver_and_its_dangerous_fallback(tmp_path: Path) -> None:
    resolvers = [
        {"resolver": "usernameMatchingUserEntityName"},
        {"resolver": "emailMatchingUserEntityProfileEmail"},
    ]
    async with _github_units(tmp_path, resolvers) as running:
        async with httpx.AsyncClient() as browser:
            stop = await browse(browser, running.start_url())
            assert stop.response is not None
            message, _ = popup_message(stop.response)
            identity = message["response"]["backstageIdentity"]["identity"]
            assert identity["userEntityRef"] == "user:default/octo-jane"
        # A login the catalog lacks falls through to the email resolver, which finds jane.
        running.github.user = GithubUser(login="jane-elsewhere")
        async with httpx.AsyncClient() as browser:
            stop = await browse(browser, running.start_url())
            assert stop.response is not None
            message, _ = popup_message(stop.response)
            identity = message["response"]["backstageIdentity"]["identity"]
            assert identity["userEntityRef"] == "user:default/jane"

    fallback = [
        {
            "resolver": "usernameMatchingUserEntityName",
            "dangerouslyAllowSignInWithoutUserInCatalog": True,
        }
    ]
    (tmp_path / "fallback").mkdir()
    async with _github_units(tmp_path / "fallback", fallback) as running:
        running.github.user = GithubUser(login="Stranger", email=None)
        async with httpx.AsyncClient() as browser:
            stop = await browse(browser, running.start_url())
            assert stop.response is not None
            message, _ = popup_message(stop.response)
            identity = message["response"]["backstageIdentity"]["identity"]
            assert identity == {
                "type": "user",
                "userEntityRef": "user:default/stranger",
                "ownershipEntityRefs": ["user:default/stranger"],
            }
