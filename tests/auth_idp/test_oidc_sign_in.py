"""Sign-in with `oidc` end to end: a browser (httpx, redirects followed one by one) opens
`/api/auth/oidc/start` on the auth unit, signs in on oidc-provider's login form, consents,
and lands on `/api/auth/oidc/handler/frame`, whose popup page carries the Backstage
identity; the token then reads the catalog on the other unit, `/refresh` renews it with the
refresh cookie, and `/logout` ends it (the IdP revokes the refresh token).

Attacks go through the same routes and must end on the popup page with an error, no
`backstageIdentity` and no refresh cookie: forged ID tokens (from a man in the middle of
the token endpoint), a replayed callback, an old code in a new flow, another client's code
injected into our flow, and a person the catalog does not know.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest
import pytest_asyncio
from joserfc.jws import extract_compact

from ._backends import APP_URL, Units, free_port, read_as, start_units
from ._browser import browse, popup_message
from ._interposer import TokenInterposer, start_token_interposer
from ._oidc import JANE, OidcClient, OidcIdp, new_signing_key, start_oidc_idp

# One IdP and one pair of units for the module; every test signs in with fresh browsers.
pytestmark = [pytest.mark.usefixtures("oidc_packages"), pytest.mark.asyncio(loop_scope="module")]

XHR = {"X-Requested-With": "XMLHttpRequest"}
START = {"env": "development", "origin": APP_URL, "flow": "popup", "scope": "openid"}


@dataclass
class Setup:
    idp: OidcIdp
    interposer: TokenInterposer
    units: Units
    other_client: OidcClient

    @property
    def callback(self) -> str:
        return f"{self.units.auth_url}/oidc/handler/frame"

    def start_url(self, **params: str) -> str:
        return f"{self.units.auth_url}/oidc/start?{urlencode({**START, **params})}"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def running(
    oidc_packages: None, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Setup]:
    tmp_path = tmp_path_factory.mktemp("oidc-sign-in")
    auth_port = free_port()
    callback = f"http://127.0.0.1:{auth_port}/api/auth/oidc/handler/frame"
    client = OidcClient("backstage", "backstage-secret", [callback])
    other = OidcClient("another-app", "another-secret", [callback])
    accounts = {"jane": JANE, "mallory": {"email": "mallory@example.com", "email_verified": True}}
    async with (
        start_oidc_idp([client, other], log_dir=tmp_path, accounts=accounts) as idp,
        start_token_interposer(idp.metadata_url) as interposer,
    ):
        providers = {
            "oidc": {
                "development": {
                    "clientId": client.client_id,
                    "clientSecret": client.client_secret,
                    "metadataUrl": interposer.metadata_url,
                    "prompt": "auto",
                    "signIn": {"resolvers": [{"resolver": "emailMatchingUserEntityProfileEmail"}]},
                }
            }
        }
        async with start_units(tmp_path, auth_port=auth_port, providers=providers) as units:
            yield Setup(idp, interposer, units, other)


@pytest_asyncio.fixture(loop_scope="module")
async def setup(running: Setup) -> Setup:
    """The module's IdP and units; each test has its own browsers and a clean interposer."""
    running.interposer.tamper = None
    running.interposer.token_responses.clear()
    return running


def _refresh_cookies(browser: httpx.AsyncClient) -> list[str]:
    return [cookie.name for cookie in browser.cookies.jar if "refresh-token" in cookie.name]


async def _sign_in(setup: Setup, browser: httpx.AsyncClient) -> Any:
    stop = await browse(browser, setup.start_url())
    assert stop.response is not None
    assert str(stop.response.url).startswith(setup.callback)
    message, origin = popup_message(stop.response)
    assert origin == APP_URL
    assert message["type"] == "authorization_response"
    return message


async def test_sign_in_reads_the_catalog_on_another_unit_refresh_and_logout(
    setup: Setup,
) -> None:
    async with httpx.AsyncClient() as browser:
        message = await _sign_in(setup, browser)
        response = message["response"]
        assert response["profile"] == {
            "email": "jane@example.com",
            "picture": "https://pictures.example.com/jane.png",
            "displayName": "Jane Doe",
        }
        assert set(response["providerInfo"]) == {
            "idToken",
            "accessToken",
            "scope",
            "expiresInSeconds",
        }
        assert set(response["providerInfo"]["scope"].split()) == {"openid", "profile", "email"}
        identity = response["backstageIdentity"]
        assert identity["identity"] == {
            "type": "user",
            "userEntityRef": "user:default/jane",
            "ownershipEntityRefs": ["user:default/jane", "group:default/team-a"],
        }
        assert _refresh_cookies(browser) == ["oidc-refresh-token"]

        # The token is a user's token to the catalog in the other unit.
        me = await read_as(setup.units, identity["token"], "/entities/by-name/user/default/jane")
        assert me.status_code == 200, me.text
        assert me.json()["spec"]["profile"]["email"] == "jane@example.com"
        forged = await read_as(setup.units, identity["token"][:-4] + "AAAA", "/entities")
        assert forged.status_code == 401

        refresh_url = f"{setup.units.auth_url}/oidc/refresh?env=development&optional"
        assert (await browser.get(refresh_url)).status_code == 401  # no X-Requested-With
        refreshed = await browser.get(refresh_url, headers={**XHR, "Origin": APP_URL})
        assert refreshed.status_code == 200, refreshed.text
        body = refreshed.json()
        assert body["profile"]["email"] == "jane@example.com"
        assert body["providerInfo"]["accessToken"] != response["providerInfo"]["accessToken"]
        renewed = body["backstageIdentity"]
        assert renewed["identity"]["userEntityRef"] == "user:default/jane"
        again = await read_as(
            setup.units, renewed["token"], "/entities/by-name/group/default/team-a"
        )
        assert again.status_code == 200, again.text

        logout = await browser.post(
            f"{setup.units.auth_url}/oidc/logout?env=development",
            headers={**XHR, "Origin": APP_URL},
        )
        assert logout.status_code == 200, logout.text
        assert _refresh_cookies(browser) == []
        after = await browser.get(refresh_url, headers={**XHR, "Origin": APP_URL})
        assert after.status_code == 401
        assert after.json()["error"]["message"].startswith("Refresh failed")


def _assert_refused(response: httpx.Response, text: str) -> None:
    """The popup page reports an error containing `text`, and nothing was issued."""
    message, origin = popup_message(response)
    assert origin == APP_URL
    assert "response" not in message, message
    assert text in message["error"]["message"], message
    cookies = response.headers.get_list("set-cookie")
    assert not [cookie for cookie in cookies if "refresh-token" in cookie], cookies


def _tamper(setup: Setup, changes: dict[str, Any]) -> None:
    key = changes.pop("key", None)

    def tamper(body: dict[str, Any]) -> dict[str, Any]:
        claims = json.loads(extract_compact(body["id_token"].encode()).payload)
        claims.update(changes)
        return {**body, "id_token": setup.idp.sign(claims, key=key)}

    setup.interposer.tamper = tamper


FORGERIES: dict[str, tuple[Callable[[OidcIdp], dict[str, Any]], str]] = {
    "wrong key": (lambda idp: {"key": new_signing_key(idp.signing_key.kid)}, "signature"),
    "wrong issuer": (lambda idp: {"iss": "https://evil.example.com"}, "issuer"),
    "wrong audience": (lambda idp: {"aud": "another-app"}, "audience"),
    "expired": (lambda idp: {"exp": 1_600_000_000, "iat": 1_599_999_000}, "expired"),
    "wrong nonce": (lambda idp: {"nonce": "a-nonce-of-another-flow"}, "nonce"),
}


@pytest.mark.parametrize("forgery", list(FORGERIES))
async def test_forged_id_tokens_issue_nothing(setup: Setup, forgery: str) -> None:
    changes, text = FORGERIES[forgery]
    _tamper(setup, changes(setup.idp))
    async with httpx.AsyncClient() as browser:
        stop = await browse(browser, setup.start_url())
        assert stop.response is not None
        _assert_refused(stop.response, text)
        assert _refresh_cookies(browser) == []
    assert len(setup.interposer.token_responses) == 1


async def test_replayed_callback_and_replayed_code_issue_nothing(setup: Setup) -> None:
    async with httpx.AsyncClient() as browser:
        stop = await browse(browser, setup.start_url(), stop_at=setup.callback)
        assert stop.url is not None
        callback = stop.url
        first = await browser.get(callback)
        assert "backstageIdentity" in popup_message(first)[0]["response"]
        # The same callback again, nonce cookie and all: the flow is spent.
        _assert_refused(await browser.get(callback), "already completed")

    async with httpx.AsyncClient() as browser:
        # The same callback in another browser: no nonce cookie.
        _assert_refused(await browser.get(callback), "missing cookie nonce")
        # Its code in a new flow of that browser: refused without the issuer (RFC 9207),
        # and by oidc-provider with it (the code is spent, and PKCE does not match).
        stolen = dict(parse_qsl(urlsplit(callback).query))
        for params, refusal in [
            ({"code": stolen["code"]}, "name its issuer"),
            ({"code": stolen["code"], "iss": stolen["iss"]}, "invalid_grant"),
        ]:
            started = await browser.get(setup.start_url())
            state = dict(parse_qsl(urlsplit(started.headers["location"]).query))["state"]
            replay = await browser.get(setup.callback, params={**params, "state": state})
            _assert_refused(replay, refusal)
    assert len(setup.interposer.token_responses) == 1  # only the first exchange succeeded


async def test_a_code_of_another_client_injected_into_our_flow_issues_nothing(
    setup: Setup,
) -> None:
    async with httpx.AsyncClient() as browser:
        started = await browser.get(setup.start_url())
        ours = dict(parse_qsl(urlsplit(started.headers["location"]).query))
        # The attacker's own authorization at the same IdP, as another client, sent to our
        # callback with our flow's state.
        theirs = {
            **ours,
            "client_id": setup.other_client.client_id,
            "prompt": "login",
        }
        authorize = started.headers["location"].split("?")[0] + "?" + urlencode(theirs)
        stop = await browse(browser, authorize)
        assert stop.response is not None
        _assert_refused(stop.response, "invalid_grant")


async def test_a_person_the_catalog_does_not_know_is_refused(setup: Setup) -> None:
    async with httpx.AsyncClient() as browser:
        stop = await browse(browser, setup.start_url(), credentials={"login": "mallory"})
        assert stop.response is not None
        _assert_refused(stop.response, "Failed to sign-in")
        assert _refresh_cookies(browser) == []


async def test_prompt_none_without_an_idp_session_ends_in_an_error(setup: Setup) -> None:
    async with httpx.AsyncClient() as browser:
        # prompt is per environment; a request cannot change it, so ask the IdP directly
        started = await browser.get(setup.start_url())
        params = dict(parse_qsl(urlsplit(started.headers["location"]).query))
        authorize = (
            started.headers["location"].split("?")[0]
            + "?"
            + urlencode({**params, "prompt": "none"})
        )
        stop = await browse(browser, authorize)
        assert stop.response is not None
        _assert_refused(stop.response, "login_required")


async def test_redirect_flow_returns_to_the_app_and_refresh_signs_in(setup: Setup) -> None:
    back_to = f"{APP_URL}/catalog?filters%5Bkind%5D=component"
    async with httpx.AsyncClient() as browser:
        stop = await browse(
            browser, setup.start_url(flow="redirect", redirectUrl=back_to), stop_at=APP_URL
        )
        assert stop.url == back_to
        assert _refresh_cookies(browser) == ["oidc-refresh-token"]
        refreshed = await browser.get(
            f"{setup.units.auth_url}/oidc/refresh?env=development", headers=XHR
        )
        assert refreshed.status_code == 200, refreshed.text
        identity = refreshed.json()["backstageIdentity"]
        assert identity["identity"]["userEntityRef"] == "user:default/jane"
        me = await read_as(setup.units, identity["token"], "/entities/by-name/user/default/jane")
        assert me.status_code == 200, me.text
