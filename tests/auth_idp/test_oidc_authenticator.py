"""The `oidc` authenticator against a real OpenID Provider (oidc-provider from npm).

Each test runs the authorization code flow as a browser would: the authenticator's
authorize URL, the IdP's login and consent forms, and the redirect back to the callback
URL (where nobody listens: the test takes the URL and hands its query to `authenticate`,
as the auth plugin's callback route does). ID tokens the real IdP would never issue come
from a man in the middle of the token endpoint (`_interposer.py`), signed with the IdP's
own key where the attack needs a valid signature.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
import pytest_asyncio
from backstage_common.config import Config
from backstage_common.errors import AuthenticationError, ServiceUnavailableError
from backstage_plugin_auth_backend_module_oidc_provider import OidcAuthenticator, OidcContext
from backstage_plugin_auth_node import (
    OAuthAuthenticateInput,
    OAuthLogoutInput,
    OAuthRefreshInput,
    OAuthStartInput,
)
from joserfc.jws import extract_compact

from ._browser import browse
from ._interposer import TokenInterposer, start_token_interposer
from ._oidc import OidcClient, OidcIdp, new_signing_key, start_oidc_idp

CALLBACK = "http://127.0.0.1:9/api/auth/oidc/handler/frame"
SCOPE = "openid profile email"
CLIENT = OidcClient("backstage", "backstage-secret", [CALLBACK])
POST_CLIENT = OidcClient(
    "backstage-post", "post-secret", [CALLBACK], token_endpoint_auth_method="client_secret_post"
)
OTHER_CLIENT = OidcClient("another-app", "another-secret", [CALLBACK])

# One IdP for the module (starting Node is most of a test's time); each test has its own
# browser, flows and HTTP client, and resets the interposer.
pytestmark = [pytest.mark.usefixtures("oidc_packages"), pytest.mark.asyncio(loop_scope="module")]


@dataclass
class Setup:
    idp: OidcIdp
    interposer: TokenInterposer
    http: httpx.AsyncClient

    async def context(
        self, client: OidcClient = CLIENT, **overrides: Any
    ) -> tuple[OidcAuthenticator, OidcContext]:
        authenticator = OidcAuthenticator(http=self.http)
        config = {
            "clientId": client.client_id,
            "clientSecret": client.client_secret,
            "metadataUrl": self.interposer.metadata_url,
            "prompt": "auto",
            **overrides,
        }
        config = {key: value for key, value in config.items() if value is not None}
        if client.token_endpoint_auth_method != "client_secret_basic":
            config.setdefault("tokenEndpointAuthMethod", client.token_endpoint_auth_method)
        context = await authenticator.initialize(
            callback_url=CALLBACK, config=Config.from_data(config, "test")
        )
        return authenticator, context


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def running_idp(
    oidc_packages: None, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[OidcIdp, TokenInterposer]]:
    log_dir = tmp_path_factory.mktemp("oidc-idp")
    async with (
        start_oidc_idp([CLIENT, POST_CLIENT, OTHER_CLIENT], log_dir=log_dir) as idp,
        start_token_interposer(idp.metadata_url) as interposer,
    ):
        yield idp, interposer


@pytest_asyncio.fixture(loop_scope="module")
async def setup(running_idp: tuple[OidcIdp, TokenInterposer]) -> AsyncIterator[Setup]:
    idp, interposer = running_idp
    interposer.tamper = None
    interposer.token_responses.clear()
    async with httpx.AsyncClient() as http:
        yield Setup(idp, interposer, http)


async def _callback(
    authenticator: OidcAuthenticator, context: OidcContext, *, state: str = "backstage-state"
) -> tuple[dict[str, str], Mapping[str, str]]:
    """Run the flow in a fresh browser up to the callback: its query and the transient
    values `start` kept."""
    started = await authenticator.start(
        OAuthStartInput(scope=SCOPE, state=state, callback_url=CALLBACK), context
    )
    async with httpx.AsyncClient() as browser:
        stop = await browse(browser, started.url, stop_at=CALLBACK)
    assert stop.url is not None, stop.response and stop.response.text
    return dict(parse_qsl(urlsplit(stop.url).query)), started.transient


def _input(query: Mapping[str, str], transient: Mapping[str, str]) -> OAuthAuthenticateInput:
    return OAuthAuthenticateInput(query=query, callback_url=CALLBACK, transient=transient)


async def test_authorize_url_carries_pkce_nonce_and_state(setup: Setup) -> None:
    authenticator, context = await setup.context(
        startUrlSearchParams={"ui_locales": "fr", "state": "attacker"}
    )
    started = await authenticator.start(
        OAuthStartInput(scope=SCOPE, state="s-1", callback_url=CALLBACK), context
    )
    url = urlsplit(started.url)
    params = dict(parse_qsl(url.query))
    assert f"{url.scheme}://{url.netloc}" == setup.idp.issuer
    assert params["response_type"] == "code"
    assert params["client_id"] == "backstage"
    assert params["redirect_uri"] == CALLBACK
    assert params["scope"] == SCOPE
    assert params["state"] == "s-1"  # the standard parameters win over startUrlSearchParams
    assert params["ui_locales"] == "fr"
    assert params["code_challenge_method"] == "S256"
    assert params["nonce"] == started.transient["nonce"]
    assert "prompt" not in params  # prompt: auto
    assert "code_verifier" not in params
    assert started.transient["code_verifier"] not in started.url


async def test_sign_in_refresh_and_logout(setup: Setup) -> None:
    authenticator, context = await setup.context()
    query, transient = await _callback(authenticator, context)
    assert query["iss"] == setup.idp.issuer  # RFC 9207, which oidc-provider sends

    result = await authenticator.authenticate(_input(query, transient), context)
    assert result.full_profile.userinfo["sub"] == "jane"
    assert result.full_profile.id_token_claims["nonce"] == transient["nonce"]
    assert result.session.id_token
    assert result.session.refresh_token
    assert set(result.session.scope.split()) >= {"openid", "email", "profile"}
    profile = await authenticator.default_profile_transform(result, context)
    assert profile.email == "jane@example.com"
    assert profile.display_name == "Jane Doe"
    assert profile.picture == "https://pictures.example.com/jane.png"

    refreshed = await authenticator.refresh(
        OAuthRefreshInput(refresh_token=result.session.refresh_token, scope=SCOPE), context
    )
    assert refreshed.session.access_token != result.session.access_token
    assert refreshed.full_profile.userinfo["email"] == "jane@example.com"
    assert refreshed.session.refresh_token

    assert (
        await authenticator.logout(
            OAuthLogoutInput(refresh_token=refreshed.session.refresh_token), context
        )
        is None
    )
    with pytest.raises(AuthenticationError, match="invalid_grant"):
        await authenticator.refresh(
            OAuthRefreshInput(refresh_token=refreshed.session.refresh_token, scope=SCOPE),
            context,
        )


async def test_client_secret_post(setup: Setup) -> None:
    authenticator, context = await setup.context(POST_CLIENT)
    query, transient = await _callback(authenticator, context)
    result = await authenticator.authenticate(_input(query, transient), context)
    assert result.full_profile.userinfo["email"] == "jane@example.com"


async def test_unverified_email_is_not_the_profile_email(setup: Setup, tmp_path: Path) -> None:
    unverified = {"email": "mallory@example.com", "email_verified": False, "name": "Mallory"}
    async with (
        start_oidc_idp([CLIENT], log_dir=tmp_path, accounts={"jane": unverified}) as idp,
        start_token_interposer(idp.metadata_url) as interposer,
    ):
        other = Setup(idp, interposer, setup.http)
        authenticator, context = await other.context()
        query, transient = await _callback(authenticator, context)
        result = await authenticator.authenticate(_input(query, transient), context)
    profile = await authenticator.default_profile_transform(result, context)
    assert profile.email is None
    assert profile.display_name == "Mallory"


async def test_prompt_none_by_default_fails_without_an_idp_session(setup: Setup) -> None:
    authenticator, context = await setup.context(prompt=None)
    started = await authenticator.start(
        OAuthStartInput(scope=SCOPE, state="s", callback_url=CALLBACK), context
    )
    assert dict(parse_qsl(urlsplit(started.url).query))["prompt"] == "none"
    async with httpx.AsyncClient() as browser:
        stop = await browse(browser, started.url, stop_at=CALLBACK)
    assert stop.url is not None
    query = dict(parse_qsl(urlsplit(stop.url).query))
    with pytest.raises(AuthenticationError, match="login_required"):
        await authenticator.authenticate(_input(query, started.transient), context)


async def test_wrong_client_secret_is_refused_by_the_idp(setup: Setup) -> None:
    authenticator, context = await setup.context(
        OidcClient("backstage", "not-the-secret", [CALLBACK])
    )
    query, transient = await _callback(authenticator, context)
    with pytest.raises(AuthenticationError, match="invalid_client"):
        await authenticator.authenticate(_input(query, transient), context)


async def test_replayed_code_is_refused_by_the_idp(setup: Setup) -> None:
    authenticator, context = await setup.context()
    query, transient = await _callback(authenticator, context)
    await authenticator.authenticate(_input(query, transient), context)
    with pytest.raises(AuthenticationError, match="invalid_grant"):
        await authenticator.authenticate(_input(query, transient), context)


async def test_code_from_another_flow_fails_pkce(setup: Setup) -> None:
    authenticator, context = await setup.context()
    query, _ = await _callback(authenticator, context, state="first")
    _, transient = await _callback(authenticator, context, state="first")
    # The second flow's verifier does not match the first flow's challenge.
    with pytest.raises(AuthenticationError, match="invalid_grant"):
        await authenticator.authenticate(_input(query, transient), context)


async def test_code_issued_to_another_client_is_refused(setup: Setup) -> None:
    other, other_context = await setup.context(OTHER_CLIENT)
    stolen_query, _ = await _callback(other, other_context, state="ours")
    authenticator, context = await setup.context()
    _, transient = await _callback(authenticator, context, state="ours")
    with pytest.raises(AuthenticationError, match="invalid_grant"):
        await authenticator.authenticate(
            _input({**stolen_query, "state": "ours"}, transient), context
        )


async def test_callback_of_another_flow_or_issuer_is_refused(setup: Setup) -> None:
    authenticator, context = await setup.context()
    query, transient = await _callback(authenticator, context)
    with pytest.raises(AuthenticationError, match="does not belong to this sign-in flow"):
        await authenticator.authenticate(_input({**query, "state": "other"}, transient), context)
    with pytest.raises(AuthenticationError, match="another issuer"):
        await authenticator.authenticate(
            _input({**query, "iss": "https://evil.example.com"}, transient), context
        )
    without_iss = {key: value for key, value in query.items() if key != "iss"}
    with pytest.raises(AuthenticationError, match="does not name its issuer"):
        await authenticator.authenticate(_input(without_iss, transient), context)
    assert setup.interposer.token_responses == []  # no code was ever sent


def _unsigned(header: Mapping[str, Any], claims: Mapping[str, Any]) -> str:
    parts = [json.dumps(dict(header)).encode(), json.dumps(dict(claims)).encode()]
    encoded = [base64.urlsafe_b64encode(part).rstrip(b"=").decode() for part in parts]
    return ".".join([*encoded, ""])


def _resign(idp: OidcIdp, **changes: Any) -> Any:
    """A tamper that replaces the ID token with one whose claims are changed, signed
    with the IdP's own key unless `key` is given (`header` alg `none`: not signed)."""
    key = changes.pop("key", None)
    header = changes.pop("header", None)

    def tamper(body: dict[str, Any]) -> dict[str, Any]:
        claims = json.loads(extract_compact(body["id_token"].encode()).payload)
        claims.update(changes)
        for name in [name for name, value in changes.items() if value is None]:
            del claims[name]
        if header is not None and header.get("alg") == "none":
            return {**body, "id_token": _unsigned(header, claims)}
        return {**body, "id_token": idp.sign(claims, key=key, header=header)}

    return tamper


ATTACKS = {
    "signed with another key": (lambda idp: {"key": new_signing_key()}, "signature"),
    "another key under the IdP's key id": (
        lambda idp: {"key": new_signing_key(idp.signing_key.kid)},
        "signature",
    ),
    "wrong issuer": (lambda idp: {"iss": "https://evil.example.com"}, "issuer"),
    "wrong audience": (lambda idp: {"aud": "another-app"}, "audience"),
    "several audiences, no azp": (
        lambda idp: {"aud": ["backstage", "another-app"], "azp": None},
        "azp",
    ),
    "issued to another party": (lambda idp: {"azp": "another-app"}, "another party"),
    "expired": (lambda idp: {"exp": 1_600_000_000, "iat": 1_599_999_000}, "expired"),
    "issued in the future": (lambda idp: {"iat": 4_000_000_000}, "future"),
    "wrong nonce": (lambda idp: {"nonce": "a-nonce-of-another-flow"}, "nonce"),
    "no nonce": (lambda idp: {"nonce": None}, "nonce"),
    "no expiry": (lambda idp: {"exp": None}, "exp"),
    "wrong at_hash": (lambda idp: {"at_hash": "AAAAAAAAAAAAAAAAAAAAAA"}, "at_hash"),
    "algorithm none": (lambda idp: {"header": {"alg": "none"}}, "none"),
}


@pytest.mark.parametrize("attack", list(ATTACKS))
async def test_forged_id_tokens_are_refused(setup: Setup, attack: str) -> None:
    changes, message = ATTACKS[attack]
    setup.interposer.tamper = _resign(setup.idp, **changes(setup.idp))
    authenticator, context = await setup.context()
    query, transient = await _callback(authenticator, context)
    with pytest.raises(AuthenticationError, match=message):
        await authenticator.authenticate(_input(query, transient), context)
    assert len(setup.interposer.token_responses) == 1  # the IdP's real answer was replaced


async def test_an_untampered_token_through_the_interposer_passes(setup: Setup) -> None:
    setup.interposer.tamper = _resign(setup.idp)  # re-signed unchanged with the IdP's key
    authenticator, context = await setup.context()
    query, transient = await _callback(authenticator, context)
    result = await authenticator.authenticate(_input(query, transient), context)
    assert result.full_profile.id_token_claims["sub"] == "jane"


async def test_missing_id_token_is_refused(setup: Setup) -> None:
    setup.interposer.tamper = lambda body: {k: v for k, v in body.items() if k != "id_token"}
    authenticator, context = await setup.context()
    query, transient = await _callback(authenticator, context)
    with pytest.raises(AuthenticationError, match="no ID token"):
        await authenticator.authenticate(_input(query, transient), context)


async def test_an_unreachable_idp_fails_the_sign_in_cleanly(setup: Setup) -> None:
    authenticator = OidcAuthenticator(http=setup.http)
    config = {"clientId": "backstage", "clientSecret": "s", "metadataUrl": "http://127.0.0.1:9"}
    context = await authenticator.initialize(
        callback_url=CALLBACK, config=Config.from_data(config, "test")
    )
    start = OAuthStartInput(scope=SCOPE, state="s", callback_url=CALLBACK)
    with pytest.raises(ServiceUnavailableError, match="did not answer the discovery document"):
        await authenticator.start(start, context)
    # Not cached: the IdP is asked again at the next sign-in.
    with pytest.raises(ServiceUnavailableError):
        await authenticator.start(start, context)


async def test_a_metadata_url_without_a_discovery_document_is_refused(setup: Setup) -> None:
    # An issuer URL gets /.well-known/openid-configuration appended; there is none here.
    authenticator, context = await setup.context(metadataUrl=f"{setup.idp.issuer}/jwks")
    start = OAuthStartInput(scope=SCOPE, state="s", callback_url=CALLBACK)
    with pytest.raises(AuthenticationError, match="refused the discovery document request"):
        await authenticator.start(start, context)
    # The issuer URL itself is found the same way.
    authenticator, context = await setup.context(metadataUrl=setup.idp.issuer)
    started = await authenticator.start(start, context)
    assert started.url.startswith(f"{setup.idp.issuer}/auth?")


async def test_id_tokens_must_use_the_configured_algorithm(setup: Setup) -> None:
    # oidc-provider signs with RS256; an environment expecting ES256 refuses its tokens.
    authenticator, context = await setup.context(tokenSignedResponseAlg="ES256")
    query, transient = await _callback(authenticator, context)
    with pytest.raises(AuthenticationError, match="signed with 'RS256', not 'ES256'"):
        await authenticator.authenticate(_input(query, transient), context)
