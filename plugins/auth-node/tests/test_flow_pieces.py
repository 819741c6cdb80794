"""The OAuth flow's pieces: state encoding, cookie chunking, refresh-cookie sealing,
scopes and browser URLs."""

from __future__ import annotations

import pytest
from backstage_common.errors import NotAllowedError
from backstage_plugin_auth_node import decode_oauth_state, encode_oauth_state
from backstage_plugin_auth_node._oauth._cookies import OAuthCookies, cookie_settings
from backstage_plugin_auth_node._oauth._scopes import ScopeSet, split_scope
from backstage_plugin_auth_node._oauth._sealing import CookieSealer
from backstage_plugin_auth_node._oauth._urls import UrlParseError, parse_browser_url, url_origin


def test_state_is_lower_hex_of_the_form_in_backstage_order() -> None:
    encoded = encode_oauth_state(
        {"scope": "read:user repo", "env": "development", "nonce": "a+b/c=", "origin": None}
    )
    assert encoded == encoded.lower()
    assert (
        bytes.fromhex(encoded).decode()
        == "nonce=a%2Bb%2Fc%3D&env=development&scope=read%3Auser+repo"
    )
    assert decode_oauth_state(encoded) == {
        "nonce": "a+b/c=",
        "env": "development",
        "scope": "read:user repo",
    }


@pytest.mark.parametrize(
    ("encoded", "message"),
    [
        ("", "OAuth state is invalid, missing env"),
        ("zz", "OAuth state is invalid, missing env"),
        (b"nonce=x".hex(), "OAuth state is invalid, missing env"),
        (b"env=development&nonce=".hex(), "OAuth state is invalid, missing nonce"),
        (b"\xff\xfe".hex(), "OAuth state is invalid, missing env"),
    ],
)
def test_state_without_env_or_nonce_is_refused(encoded: str, message: str) -> None:
    with pytest.raises(NotAllowedError, match=message):
        decode_oauth_state(encoded)


def test_long_cookie_values_are_chunked_and_read_back() -> None:
    cookies = OAuthCookies(
        provider_id="p",
        callback_url="https://auth.example.com/api/auth/p/handler/frame",
        default_app_origin="https://app.example.com",
        session_duration_seconds=None,
    )
    value = "x" * 4000 + "y" * 4000 + "z"
    headers: list[tuple[str, str]] = []
    cookies.set(headers, {"p-refresh-token": "old"}, "p-refresh-token", value, None)
    names = [header.split("=", 1)[0] for _, header in headers]
    assert names == [
        "p-refresh-token",
        "p-refresh-token-0",
        "p-refresh-token-1",
        "p-refresh-token-2",
    ]
    assert "Max-Age=0" in headers[0][1]  # the plain form is removed
    assert all("Secure" in h and "SameSite=None" in h and "HttpOnly" in h for _, h in headers)
    read = {
        "p-refresh-token-0": "x" * 4000,
        "p-refresh-token-1": "y" * 4000,
        "p-refresh-token-2": "z",
    }
    assert OAuthCookies.read({**read, "p-refresh-token": "stale"}, "p-refresh-token") == value


def test_cookie_path_and_same_site() -> None:
    settings = cookie_settings(
        callback_url="http://localhost:7007/api/auth/github/handler/frame",
        provider_id="github",
        app_origin="http://localhost:3000",
    )
    assert (settings.path, settings.secure, settings.same_site) == (
        "/api/auth/github",
        False,
        "Lax",
    )


def test_sealed_values_open_only_with_the_same_secret_and_name() -> None:
    sealer = CookieSealer("secret-one")
    sealed = sealer.seal("github-refresh-token", "gho_token")
    assert "gho_token" not in sealed
    assert sealer.open("github-refresh-token", sealed) == "gho_token"
    assert sealer.open("oidc-refresh-token", sealed) is None
    assert CookieSealer("secret-two").open("github-refresh-token", sealed) is None
    assert sealer.open("github-refresh-token", sealed[:-2] + "AA") is None
    assert sealer.open("github-refresh-token", "gho_token") is None
    assert sealer.open("github-refresh-token", "v1.") is None
    assert sealer.seal("n", "v") != sealer.seal("n", "v")  # a fresh nonce each time


def test_scopes_are_split_and_joined_as_backstage_does() -> None:
    assert split_scope("a b,c|d  e") == ["a", "b", "c", "d", "e"]
    scopes = ScopeSet(required=["openid"], additional=["extra", "a"])
    assert scopes.combine(["a", "b"], ["b", "c"]) == "a b c openid extra"
    assert ScopeSet.already_granted(["a", "b"], "a b")
    assert not ScopeSet.already_granted(["a"], "a b")


@pytest.mark.parametrize(
    "text",
    [
        "http://evil.example\\@localhost:3000",
        "http://localhost:3000@evil.example",
        "http://user@localhost:3000",
        "javascript:alert(1)",
        "/relative",
        "http://local host:3000",
        "http://localhost:3000\t.evil.example",
        "http://localhost:99999",
        "http://",
    ],
)
def test_urls_a_browser_could_read_differently_are_refused(text: str) -> None:
    with pytest.raises(UrlParseError):
        parse_browser_url(text)


def test_origins_are_normalised_like_url_origin() -> None:
    assert (
        url_origin(parse_browser_url("HTTPS://App.Example.com:443/x?y"))
        == "https://app.example.com"
    )
    assert url_origin(parse_browser_url("http://[::1]:3000/")) == "http://[::1]:3000"
