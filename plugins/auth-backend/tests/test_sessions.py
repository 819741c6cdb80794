"""Cookie attributes by deployment, the session secret the OAuth flow needs, and logs that
never carry a token, a secret or a cookie value."""

from __future__ import annotations

from typing import Any

import pytest

from ._backends import APP_URL, auth_backend
from ._fake_provider import FakeIdp, fake_provider_module
from ._flow import Browser, decode_state, popup_message, set_cookies
from .test_oauth_flow import PROVIDER, SECRET, XHR


@pytest.fixture(autouse=True)
def _no_backstage_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BACKSTAGE_ENV", raising=False)


def _provider(callback_url: str) -> dict[str, Any]:
    return {"development": {**PROVIDER["development"], "callbackUrl": callback_url}}


@pytest.mark.parametrize(
    ("callback_url", "app_url", "secure", "same_site", "path"),
    [
        (
            "https://auth.example.com/api/auth/fake/handler/frame",
            APP_URL,
            True,
            "None",
            "/api/auth/fake",
        ),
        (
            "https://app.example.com/api/auth/fake/handler/frame",
            "https://app.example.com",
            True,
            "Lax",
            "/api/auth/fake",
        ),
        ("http://localhost:7007/custom/callback", APP_URL, False, "Lax", "/custom/callback/fake"),
    ],
)
async def test_cookie_attributes_follow_the_callback_url(
    callback_url: str, app_url: str, secure: bool, same_site: str, path: str
) -> None:
    config = {
        "app": {"baseUrl": app_url},
        "auth": {"session": {"secret": SECRET}, "providers": {"fake": _provider(callback_url)}},
    }
    async with auth_backend(config, extra=[fake_provider_module(FakeIdp())]) as test:
        response = await Browser(test.base_url).request(
            "GET", "/api/auth/fake/start", params={"env": "development", "origin": app_url}
        )
        assert response.status_code == 302, response.text
        nonce = set_cookies(response)["fake-nonce"]
        assert ("secure" in nonce.flags) is secure
        assert nonce.attributes["SameSite"] == same_site
        assert nonce.attributes["Path"] == path + "/handler"
        assert "httponly" in nonce.flags
        assert "Domain" not in nonce.attributes


async def test_without_a_session_secret_development_skips_the_provider() -> None:
    config = {"auth": {"providers": {"fake": PROVIDER}}}
    async with auth_backend(config, extra=[fake_provider_module(FakeIdp())]) as test:
        response = await test.client.get("/api/auth/fake/start", params={"env": "development"})
        assert response.status_code == 404
        assert response.json()["error"]["message"].startswith(
            "Auth provider registered for 'fake' is misconfigured."
        )
        # the guest is not an OAuth provider and needs no secret
        guest = await test.client.get("/api/auth/guest/refresh")
        assert guest.status_code == 200


async def test_without_a_session_secret_a_deployed_backend_does_not_start() -> None:
    config = {
        "backend": {"environment": "production"},
        "auth": {"providers": {"fake": PROVIDER}},
    }
    with pytest.raises(Exception) as failure:  # noqa: PT011 - the startup error wraps it
        async with auth_backend(config, extra=[fake_provider_module(FakeIdp())]):
            pass
    assert "Failed to initialize fake auth provider" in str(failure.value)
    assert "auth.session.secret" in str(failure.value)


async def test_no_log_line_carries_a_token_secret_or_cookie(
    capfd: pytest.CaptureFixture[str],
) -> None:
    idp = FakeIdp()
    config = {
        "backend": {"logging": {"level": "debug"}},
        "auth": {"session": {"secret": SECRET}, "providers": {"fake": PROVIDER}},
    }
    async with auth_backend(config, extra=[fake_provider_module(idp)]) as test:
        browser = Browser(test.base_url)
        start = await browser.request(
            "GET",
            "/api/auth/fake/start",
            params={"env": "development", "origin": APP_URL, "scope": "read"},
        )
        state, fields = decode_state(start.headers["location"])
        nonce = set_cookies(start)["fake-nonce"].value
        code = idp.issue_code(idp.verifiers[-1])
        frame = await browser.request(
            "GET",
            "/api/auth/fake/handler/frame",
            params={"code": code, "state": state},
            cookies={"fake-nonce": nonce},
        )
        _, message = popup_message(frame)
        token = message["response"]["backstageIdentity"]["token"]
        sealed = set_cookies(frame)["fake-refresh-token"].value
        refresh = await browser.request(
            "GET",
            "/api/auth/fake/refresh",
            params={"env": "development"},
            cookies={"fake-refresh-token": sealed},
            headers=XHR,
        )
        refreshed = refresh.json()["backstageIdentity"]["token"]
        # failures log too: a replay and a tampered cookie
        await browser.request(
            "GET",
            "/api/auth/fake/handler/frame",
            params={"code": code, "state": state},
            cookies={"fake-nonce": nonce},
        )
        await browser.request(
            "GET",
            "/api/auth/fake/refresh",
            params={"env": "development"},
            cookies={"fake-refresh-token": sealed[:-3] + "AAA"},
            headers=XHR,
        )
        await test.client.get("/api/probe/whoami", headers={"Authorization": f"Bearer {token}"})
        await test.client.get(
            "/api/auth/v1/userinfo", headers={"Authorization": f"Bearer {refreshed}"}
        )
        await browser.request(
            "POST",
            "/api/auth/fake/logout",
            params={"env": "development"},
            cookies={"fake-refresh-token": sealed},
            headers=XHR,
        )
    logs = capfd.readouterr()
    output = logs.out + logs.err
    assert "Issuing token for user:default/jane.doe" in output  # the logs were captured
    secrets = [SECRET, token, refreshed, sealed, nonce, code, *idp.secrets_seen]
    secrets += [token.split(".")[2], refreshed.split(".")[2]]
    leaked = [secret for secret in secrets if secret in output]
    assert leaked == []
    assert fields["nonce"] not in output


@pytest.mark.parametrize(
    ("origin", "status"),
    [
        ("https://preview-1.example.com", 302),
        ("HTTPS://Preview-2.Example.com", 302),
        ("https://example.com.evil.io", 403),
        ("https://evil.io/.example.com", 403),
        ("http://preview-1.example.com", 403),
    ],
)
async def test_extra_allowed_origins_are_globs(origin: str, status: int) -> None:
    config = {
        "auth": {
            "session": {"secret": SECRET},
            "providers": {"fake": PROVIDER},
            "experimentalExtraAllowedOrigins": ["https://*.example.com"],
        }
    }
    async with auth_backend(config, extra=[fake_provider_module(FakeIdp())]) as test:
        response = await Browser(test.base_url).request(
            "GET", "/api/auth/fake/start", params={"env": "development", "origin": origin}
        )
        assert response.status_code == status, response.text
