"""The OAuth routes around a provider: start, handler/frame, refresh, logout, with every
way an attacker would try them (the identity provider is a fake, the rest is real)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
from backstage_backend_test_utils import TestBackend

from ._backends import APP_URL, auth_backend
from ._fake_provider import FakeIdp, fake_provider_module
from ._flow import Browser, decode_state, popup_message, set_cookies

XHR = {"X-Requested-With": "XMLHttpRequest"}
SECRET = "a-session-secret-for-tests-0123456789"
PROVIDER: dict[str, Any] = {
    "development": {
        "clientId": "backstage",
        "signIn": {
            "resolvers": [
                {
                    "resolver": "emailLocalPartMatchingUserEntityName",
                    "dangerouslyAllowSignInWithoutUserInCatalog": True,
                }
            ]
        },
    }
}


@dataclass
class Setup:
    test: TestBackend
    idp: FakeIdp
    browser: Browser


@pytest.fixture
async def setup() -> AsyncIterator[Setup]:
    idp = FakeIdp()
    config = {"auth": {"session": {"secret": SECRET}, "providers": {"fake": PROVIDER}}}
    async with auth_backend(config, extra=[fake_provider_module(idp)]) as test:
        yield Setup(test, idp, Browser(test.base_url))


async def start(setup: Setup, **params: str) -> tuple[str, dict[str, str], str]:
    """A started popup flow: (state, its fields, the nonce cookie)."""
    query = {"env": "development", "scope": "read", "origin": APP_URL, "flow": "popup"}
    response = await setup.browser.request(
        "GET", "/api/auth/fake/start", params={**query, **params}
    )
    assert response.status_code == 302, response.text
    state, fields = decode_state(response.headers["location"])
    return state, fields, set_cookies(response)["fake-nonce"].value


async def frame(setup: Setup, state: str, cookies: dict[str, str], code: str | None = None) -> Any:
    code = code or setup.idp.issue_code(setup.idp.verifiers[-1])
    return await setup.browser.request(
        "GET",
        "/api/auth/fake/handler/frame",
        params={"code": code, "state": state},
        cookies=cookies,
    )


async def signed_in(setup: Setup) -> dict[str, str]:
    """The cookies a completed sign-in leaves."""
    state, _, nonce = await start(setup)
    response = await frame(setup, state, {"fake-nonce": nonce})
    return {name: cookie.value for name, cookie in set_cookies(response).items()}


async def test_start_redirects_to_the_provider_with_state_and_nonce_cookie(setup: Setup) -> None:
    response = await setup.browser.request(
        "GET",
        "/api/auth/fake/start",
        params={"env": "development", "scope": "read", "origin": APP_URL, "flow": "popup"},
    )
    assert response.status_code == 302
    assert response.headers["content-length"] == "0"
    location = response.headers["location"]
    assert location.startswith("https://idp.example/authorize?")
    state, fields = decode_state(location)
    assert state == state.lower()
    nonce = set_cookies(response)["fake-nonce"]
    assert fields == {
        "nonce": nonce.value,
        "env": "development",
        "origin": APP_URL,
        "flow": "popup",
        "scope": "read openid",
    }
    assert nonce.attributes["Path"] == "/api/auth/fake/handler"
    assert nonce.attributes["Max-Age"] == "600"
    assert nonce.attributes["SameSite"] == "Lax"
    assert "httponly" in nonce.flags
    assert "secure" not in nonce.flags
    assert len(nonce.value) == 24  # 16 random bytes, standard base64


async def test_popup_flow_signs_in_and_keeps_the_refresh_token_encrypted(setup: Setup) -> None:
    state, _, nonce = await start(setup)
    response = await frame(setup, state, {"fake-nonce": nonce})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    origin, message = popup_message(response)
    assert origin == APP_URL
    assert message["type"] == "authorization_response"
    body = message["response"]
    assert body["profile"] == {"email": "jane.doe@example.com", "displayName": "Jane Doe"}
    info = body["providerInfo"]
    assert set(info) == {"accessToken", "scope", "expiresInSeconds"}
    assert info["scope"] == "read openid"
    identity = body["backstageIdentity"]
    assert identity["identity"] == {
        "type": "user",
        "userEntityRef": "user:default/jane.doe",
        "ownershipEntityRefs": ["user:default/jane.doe"],
    }
    cookies = set_cookies(response)
    refresh = cookies["fake-refresh-token"]
    assert refresh.attributes["Path"] == "/api/auth/fake"
    assert {"httponly"} <= refresh.flags
    assert refresh.value.startswith("v1.")
    assert not any(token in refresh.value for token in setup.idp.refresh_tokens)
    assert cookies["fake-granted-scope"].value == "read openid"
    whoami = await setup.browser.request(
        "GET", "/api/probe/whoami", headers={"authorization": f"Bearer {identity['token']}"}
    )
    assert whoami.json()["userEntityRef"] == "user:default/jane.doe"


async def test_refresh_reads_the_encrypted_cookie_and_rotates_it(setup: Setup) -> None:
    cookies = await signed_in(setup)
    (issued,) = setup.idp.refresh_tokens
    response = await setup.browser.request(
        "GET",
        "/api/auth/fake/refresh",
        params={"env": "development", "optional": ""},
        cookies={"fake-refresh-token": cookies["fake-refresh-token"]},
        headers=XHR,
    )
    assert response.status_code == 200, response.text
    assert setup.idp.refreshed_with == [issued]
    body = response.json()
    assert set(body) == {"profile", "providerInfo", "backstageIdentity"}
    assert body["backstageIdentity"]["identity"]["userEntityRef"] == "user:default/jane.doe"
    rotated = set_cookies(response)["fake-refresh-token"]
    assert rotated.value != cookies["fake-refresh-token"]
    again = await setup.browser.request(
        "GET",
        "/api/auth/fake/refresh",
        params={"env": "development"},
        cookies={"fake-refresh-token": rotated.value},
        headers=XHR,
    )
    assert again.status_code == 200
    assert setup.idp.refreshed_with[-1] in setup.idp.refresh_tokens


@pytest.mark.parametrize(
    ("cookies", "headers", "message"),
    [
        ({}, XHR, "Refresh failed; caused by InputError: Missing session cookie"),
        (None, {}, "Invalid X-Requested-With header"),
        (None, {"X-Requested-With": "xmlhttprequest"}, "Invalid X-Requested-With header"),
        ("tamper", XHR, "Refresh failed; caused by InputError: Invalid session cookie"),
        ("plain", XHR, "Refresh failed; caused by InputError: Invalid session cookie"),
        ("other-provider", XHR, "Refresh failed; caused by InputError: Invalid session cookie"),
    ],
)
async def test_refresh_refuses(
    setup: Setup, cookies: Any, headers: dict[str, str], message: str
) -> None:
    good = (await signed_in(setup))["fake-refresh-token"]
    sent: dict[str, str]
    if cookies is None:
        sent = {"fake-refresh-token": good}
    elif cookies == "tamper":
        flipped = "A" if good[-5] != "A" else "B"
        sent = {"fake-refresh-token": good[:-5] + flipped + good[-4:]}
    elif cookies == "plain":
        sent = {"fake-refresh-token": next(iter(setup.idp.refresh_tokens))}
    elif cookies == "other-provider":
        # a cookie sealed for another provider's name does not open as this one's
        sent = {"fake-refresh-token": "v1." + good[3:][::-1]}
    else:
        sent = cookies
    response = await setup.browser.request(
        "GET",
        "/api/auth/fake/refresh",
        params={"env": "development"},
        cookies=sent,
        headers=headers,
    )
    assert response.status_code == 401
    assert response.json()["error"]["name"] == "AuthenticationError"
    assert response.json()["error"]["message"] == message
    assert "backstageIdentity" not in response.text
    assert setup.idp.refreshed_with == []


async def test_frame_refuses_a_missing_or_wrong_nonce_and_issues_nothing(setup: Setup) -> None:
    state, _, nonce = await start(setup)
    for cookies, message in [
        ({}, "Auth response is missing cookie nonce"),
        ({"fake-nonce": nonce[::-1]}, "Invalid nonce"),
    ]:
        response = await frame(setup, state, cookies)
        assert response.status_code == 200
        origin, body = popup_message(response)
        assert origin == APP_URL
        assert body == {
            "type": "authorization_response",
            "error": {"name": "NotAllowedError", "message": message},
        }
        assert set_cookies(response) == {}
    assert setup.idp.authenticated == 0


async def test_frame_refuses_a_state_from_another_flow(setup: Setup) -> None:
    state_a, _, _ = await start(setup)
    _, _, nonce_b = await start(setup)
    response = await frame(setup, state_a, {"fake-nonce": nonce_b})
    _, body = popup_message(response)
    assert body["error"] == {"name": "NotAllowedError", "message": "Invalid nonce"}
    assert setup.idp.authenticated == 0


async def test_frame_refuses_a_replayed_state(setup: Setup) -> None:
    state, _, nonce = await start(setup)
    first = await frame(setup, state, {"fake-nonce": nonce})
    assert "backstageIdentity" in popup_message(first)[1]["response"]
    replay = await frame(setup, state, {"fake-nonce": nonce})
    _, body = popup_message(replay)
    assert body["error"] == {
        "name": "NotAllowedError",
        "message": "OAuth flow is unknown, expired or already completed",
    }
    assert set_cookies(replay) == {}
    assert setup.idp.authenticated == 1


async def test_frame_refuses_a_state_whose_fields_were_changed(setup: Setup) -> None:
    _, fields, nonce = await start(setup)

    forged = urlencode({**fields, "scope": "admin"}).encode().hex()
    response = await frame(setup, forged, {"fake-nonce": nonce})
    _, body = popup_message(response)
    assert body["error"]["name"] == "NotAllowedError"
    assert setup.idp.authenticated == 0


async def test_frame_answers_a_forged_state_origin_to_the_app_only(setup: Setup) -> None:
    _, fields, nonce = await start(setup)

    forged = urlencode({**fields, "origin": "https://evil.example"}).encode().hex()
    response = await frame(setup, forged, {"fake-nonce": nonce})
    origin, body = popup_message(response)
    assert origin == APP_URL
    assert body["error"] == {
        "name": "NotAllowedError",
        "message": "Origin 'https://evil.example' is not allowed",
    }


async def test_frame_refuses_a_code_the_provider_refuses(setup: Setup) -> None:
    state, _, nonce = await start(setup)
    response = await frame(setup, state, {"fake-nonce": nonce}, code="stolen-code")
    _, body = popup_message(response)
    assert body["error"] == {
        "name": "AuthenticationError",
        "message": "The identity provider refused the code",
    }
    assert set_cookies(response) == {}


@pytest.mark.parametrize(
    ("params", "status", "name", "message"),
    [
        (
            {"origin": "https://evil.example"},
            403,
            "NotAllowedError",
            "Origin 'https://evil.example' is not allowed",
        ),
        (
            {"origin": "http://localhost.evil.example:3000"},
            403,
            "NotAllowedError",
            "Origin 'http://localhost.evil.example:3000' is not allowed",
        ),
        (
            {"origin": "http://localhost:3000.evil.example"},
            400,
            "InputError",
            "App origin is invalid, failed to parse",
        ),
        ({"origin": "not a url"}, 400, "InputError", "App origin is invalid, failed to parse"),
        (
            {"origin": "http://evil.example\\@localhost:3000"},
            400,
            "InputError",
            "App origin is invalid, failed to parse",
        ),
        (
            {"flow": "redirect"},
            400,
            "InputError",
            "No redirectUrl provided in request query parameters",
        ),
        (
            {"flow": "redirect", "redirectUrl": "https://evil.example/catalog"},
            403,
            "NotAllowedError",
            "Redirect URL is not an allowed origin",
        ),
        (
            {"flow": "redirect", "redirectUrl": "javascript:alert(1)"},
            400,
            "InputError",
            "Redirect URL is invalid, failed to parse",
        ),
        (
            {"flow": "redirect", "redirectUrl": "javascript://localhost:3000/%0aalert(1)"},
            403,
            "NotAllowedError",
            "Redirect URL is not an allowed origin",
        ),
        (
            {"flow": "redirect", "redirectUrl": "/catalog"},
            400,
            "InputError",
            "Redirect URL is invalid, failed to parse",
        ),
        (
            {"flow": "redirect", "redirectUrl": "http://localhost:3000@evil.example/"},
            400,
            "InputError",
            "Redirect URL is invalid, failed to parse",
        ),
        ({"env": ""}, 400, "InputError", "Must specify 'env' query to select environment"),
        (
            {"env": "production"},
            404,
            "NotFoundError",
            "No configuration available for the 'production' environment of this provider.",
        ),
    ],
)
async def test_start_refuses(
    setup: Setup, params: dict[str, str], status: int, name: str, message: str
) -> None:
    query = {"env": "development", "scope": "read", "origin": APP_URL, **params}
    response = await setup.browser.request("GET", "/api/auth/fake/start", params=query)
    assert response.status_code == status
    assert response.json()["error"] == {"name": name, "message": message}
    assert "set-cookie" not in response.headers
    assert setup.idp.verifiers == []


async def test_redirect_flow_returns_to_the_app(setup: Setup) -> None:
    target = f"{APP_URL}/catalog?filter=kind%3Dcomponent"
    state, fields, nonce = await start(setup, flow="redirect", redirectUrl=target)
    assert fields["redirectUrl"] == target
    response = await frame(setup, state, {"fake-nonce": nonce})
    assert response.status_code == 302
    assert response.headers["location"] == target
    assert "fake-refresh-token" in set_cookies(response)


async def test_redirect_flow_failure_returns_to_the_app_with_the_error(setup: Setup) -> None:
    state, _, nonce = await start(setup, flow="redirect", redirectUrl=f"{APP_URL}/catalog#section")
    response = await frame(setup, state, {"fake-nonce": nonce[::-1]})
    assert response.status_code == 302
    assert response.headers["location"] == f"{APP_URL}/?error=Invalid+nonce"
    assert set_cookies(response) == {}


async def test_state_without_nonce_is_a_json_error(setup: Setup) -> None:
    state = b"env=development".hex()
    response = await setup.browser.request(
        "GET", "/api/auth/fake/handler/frame", params={"state": state}
    )
    assert response.status_code == 403
    assert response.json()["error"] == {
        "name": "NotAllowedError",
        "message": "OAuth state is invalid, missing nonce",
    }


async def test_logout_clears_the_cookies_and_signs_out_at_the_provider(setup: Setup) -> None:
    cookies = await signed_in(setup)
    (issued,) = setup.idp.refresh_tokens
    for headers, status in [
        ({}, 401),
        ({**XHR, "Origin": "https://evil.example"}, 403),
    ]:
        refused = await setup.browser.request(
            "POST",
            "/api/auth/fake/logout",
            params={"env": "development"},
            cookies=cookies,
            headers=headers,
        )
        assert refused.status_code == status
        assert setup.idp.logged_out_with == []
    response = await setup.browser.request(
        "POST",
        "/api/auth/fake/logout",
        params={"env": "development"},
        cookies=cookies,
        headers={**XHR, "Origin": APP_URL},
    )
    assert response.status_code == 200
    assert response.json() == {"logoutUrl": "https://idp.example/logout"}
    assert setup.idp.logged_out_with == [issued]
    removed = set_cookies(response)
    assert {name: c.attributes["Max-Age"] for name, c in removed.items()} == {
        "fake-refresh-token": "0",
        "fake-granted-scope": "0",
    }


async def test_unknown_and_unconfigured_providers(setup: Setup) -> None:
    unknown = await setup.browser.request("GET", "/api/auth/nope/start")
    assert (unknown.status_code, unknown.json()["error"]["message"]) == (
        404,
        "Unknown auth provider 'nope'",
    )
    guest_start = await setup.browser.request("GET", "/api/auth/guest/start")
    assert (guest_start.status_code, guest_start.json()["error"]) == (
        501,
        {"name": "NotImplementedError", "message": "Not implemented"},
    )
    guest_logout = await setup.browser.request("POST", "/api/auth/guest/logout")
    assert guest_logout.json()["error"]["message"] == "Unknown auth provider 'guest'"
