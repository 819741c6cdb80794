"""`OidcAuthenticator`: the `oidc` provider's side of the OAuth flow.

`start` sends the browser to the authorize endpoint with `response_type=code`, the
Backstage `state`, a fresh `nonce` and a PKCE S256 challenge (plain only when the IdP
lists nothing else); the verifier, the nonce and the state stay server-side as the flow's
transient values. `authenticate` checks the callback (an IdP error, `state`, the RFC 9207
`iss`), trades the code, validates the ID token and reads userinfo, whose subject must be
the ID token's. `refresh` uses the `refresh_token` grant and reads userinfo again;
`logout` revokes the refresh token where the IdP has a revocation endpoint.

Library: joserfc (JWS, JWK, JWT claims) with httpx for the HTTP exchanges. joserfc is
typed, is what Authlib's own `authlib.jose` now defers to, and keeps the signature checks
in a maintained library; the OAuth exchanges are four form posts and two GETs, which httpx
does directly with the plugin's client, timeouts and tracing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

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
)
from joserfc.jwk import Key, OctKey

from backstage_plugin_auth_backend_module_oidc_provider._id_token import (
    IdTokenExpectations,
    token_header,
    validate_id_token,
)
from backstage_plugin_auth_backend_module_oidc_provider._idp import (
    IdentityProvider,
    ProviderMetadata,
    TokenResponse,
)
from backstage_plugin_auth_backend_module_oidc_provider._settings import (
    OidcSettings,
    read_oidc_settings,
)

__all__ = ["OidcAuthenticator", "OidcContext", "OidcProfile"]

_REQUIRED_SCOPES: Final = ("openid", "profile", "email")
_VERIFIER: Final = "code_verifier"
_NONCE: Final = "nonce"
_STATE: Final = "state"
_MAX_ERROR_TEXT: Final = 200


@dataclass(frozen=True)
class OidcContext:
    """One configured environment: its settings and its identity provider.

    Args:
        settings: the environment's settings.
        idp: the identity provider, with its cached discovery document and keys.
    """

    settings: OidcSettings
    idp: IdentityProvider


@dataclass(frozen=True)
class OidcProfile:
    """The `oidc` provider's full profile, what resolvers and profile transforms read.

    Args:
        userinfo: the userinfo endpoint's claims.
        id_token_claims: the validated ID token's claims (empty after a refresh that
            returned no ID token).
    """

    userinfo: Mapping[str, Any]
    id_token_claims: Mapping[str, Any] = field(default_factory=dict)


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _pkce_method(metadata: ProviderMetadata) -> str:
    """S256, unless the IdP says it supports plain only (RFC 7636 4.2)."""
    supported = metadata.code_challenge_methods_supported
    if supported and "S256" not in supported and "plain" in supported:
        return "plain"
    return "S256"


def _with_query(url: str, params: Mapping[str, str]) -> str:
    """`url` with `params` added to the query it may already have (the params win)."""
    parts = urlsplit(url)
    kept = [(key, value) for key, value in parse_qsl(parts.query) if key not in params]
    return urlunsplit(parts._replace(query=urlencode([*kept, *params.items()])))


def _short(value: str) -> str:
    return value if len(value) <= _MAX_ERROR_TEXT else value[:_MAX_ERROR_TEXT] + "..."


def _session(tokens: TokenResponse, *, scope: str) -> OAuthSession:
    return OAuthSession(
        access_token=tokens.access_token,
        token_type=tokens.token_type or "bearer",
        scope=tokens.scope if tokens.scope is not None else scope,
        expires_in_seconds=tokens.expires_in,
        id_token=tokens.id_token,
        refresh_token=tokens.refresh_token,
        refresh_token_expires_in_seconds=tokens.refresh_token_expires_in,
    )


def _check_callback(query: Mapping[str, str], transient: Mapping[str, str]) -> None:
    error = query.get("error")
    if error:
        description = query.get("error_description")
        detail = f"{_short(error)} ({_short(description)})" if description else _short(error)
        raise AuthenticationError(f"The identity provider refused the sign-in: {detail}")
    expected_state = transient.get(_STATE)
    state = query.get("state", "")
    if expected_state is None or not hmac.compare_digest(state.encode(), expected_state.encode()):
        raise AuthenticationError("The sign-in response does not belong to this sign-in flow")


def _check_issuer_parameter(query: Mapping[str, str], metadata: ProviderMetadata) -> None:
    """RFC 9207: the authorization response names its issuer; a response from another IdP
    (a mix-up attack) is refused before its code is sent anywhere."""
    issuer = query.get("iss")
    if issuer is None:
        if metadata.authorization_response_iss_parameter_supported:
            raise AuthenticationError("The sign-in response does not name its issuer")
        return
    if issuer != metadata.issuer:
        raise AuthenticationError("The sign-in response comes from another issuer")


class OidcAuthenticator:
    """Signs people in with any OpenID Connect provider (`auth.providers.oidc`).

    One instance serves every environment; `initialize` makes each environment's
    `OidcContext`. A company's own OIDC-based provider can reuse it under another
    provider id with `create_oauth_provider_factory`.

    Args:
        http: the HTTP client for the identity provider (closed by its owner).
    """

    should_persist_scopes: bool = True
    always_scopes: Sequence[str] = _REQUIRED_SCOPES

    def __init__(self, *, http: httpx.AsyncClient) -> None:
        self._http = http

    async def initialize(self, *, callback_url: str, config: Config) -> OidcContext:
        """Read the environment's settings; the IdP is first asked at the first sign-in.

        Args:
            callback_url: the environment's callback URL (used per request, not stored).
            config: the environment's block, `auth.providers.oidc.<env>`.
        """
        settings = read_oidc_settings(config)
        return OidcContext(settings=settings, idp=IdentityProvider(settings, self._http))

    async def start(self, input: OAuthStartInput, ctx: OidcContext) -> OAuthStartResponse:
        """The authorize URL, with the state, a nonce and a PKCE challenge.

        Args:
            input: scope, state and callback URL.
            ctx: the environment's context.
        """
        metadata = await ctx.idp.metadata()
        settings = ctx.settings
        nonce = secrets.token_urlsafe(16)
        verifier = secrets.token_urlsafe(48)
        method = _pkce_method(metadata)
        params = dict(settings.start_url_search_params or {})
        params.update(
            client_id=settings.client_id,
            redirect_uri=input.callback_url,
            response_type="code",
            scope=input.scope,
            state=input.state,
            nonce=nonce,
            code_challenge=_s256(verifier) if method == "S256" else verifier,
            code_challenge_method=method,
        )
        if settings.prompt is not None:
            params["prompt"] = settings.prompt
        return OAuthStartResponse(
            url=_with_query(metadata.authorization_endpoint, params),
            transient={_VERIFIER: verifier, _NONCE: nonce, _STATE: input.state},
        )

    async def _id_token_claims(
        self,
        ctx: OidcContext,
        id_token: str,
        *,
        nonce: str | None,
        access_token: str,
    ) -> dict[str, Any]:
        metadata = await ctx.idp.metadata()
        algorithm = ctx.settings.token_signed_response_alg
        keys: Sequence[Key]
        if algorithm.startswith("HS"):
            keys = [OctKey.import_key(ctx.settings.client_secret)]
        else:
            kid = _unverified_kid(id_token)
            keys = await ctx.idp.signing_keys(kid)
        expected = IdTokenExpectations(
            issuer=metadata.issuer,
            client_id=ctx.settings.client_id,
            algorithm=algorithm,
            nonce=nonce,
            access_token=access_token,
        )
        return validate_id_token(id_token, keys, expected)

    async def _userinfo(
        self, ctx: OidcContext, access_token: str, claims: Mapping[str, Any]
    ) -> dict[str, Any]:
        userinfo = await ctx.idp.userinfo(access_token)
        # OpenID Connect Core 5.3.2: userinfo of another subject must not be used.
        if claims and userinfo.get("sub") != claims.get("sub"):
            raise AuthenticationError("The userinfo subject is not the ID token's subject")
        return userinfo

    async def authenticate(
        self, input: OAuthAuthenticateInput, ctx: OidcContext
    ) -> OAuthAuthenticatorResult[OidcProfile]:
        """Check the callback, trade its code and validate the ID token.

        Args:
            input: the callback's query, the callback URL and the flow's transient values.
            ctx: the environment's context.
        """
        _check_callback(input.query, input.transient)
        code = input.query.get("code")
        if not code:
            raise InputError("The sign-in response carries no authorization code")
        nonce = input.transient.get(_NONCE)
        verifier = input.transient.get(_VERIFIER)
        if nonce is None or verifier is None:
            raise AuthenticationError("The sign-in response does not belong to this sign-in flow")
        _check_issuer_parameter(input.query, await ctx.idp.metadata())
        tokens = await ctx.idp.exchange_code(
            code=code, redirect_uri=input.callback_url, code_verifier=verifier
        )
        if not tokens.id_token:
            raise AuthenticationError("The identity provider issued no ID token")
        claims = await self._id_token_claims(
            ctx, tokens.id_token, nonce=nonce, access_token=tokens.access_token
        )
        userinfo = await self._userinfo(ctx, tokens.access_token, claims)
        return OAuthAuthenticatorResult(
            full_profile=OidcProfile(userinfo=userinfo, id_token_claims=claims),
            session=_session(tokens, scope=""),
        )

    async def refresh(
        self, input: OAuthRefreshInput, ctx: OidcContext
    ) -> OAuthAuthenticatorResult[OidcProfile]:
        """New tokens with the `refresh_token` grant, and the userinfo they give access to.

        Args:
            input: the refresh token and the requested scope.
            ctx: the environment's context.
        """
        tokens = await ctx.idp.refresh(input.refresh_token)
        claims: dict[str, Any] = {}
        if tokens.id_token:
            claims = await self._id_token_claims(
                ctx, tokens.id_token, nonce=None, access_token=tokens.access_token
            )
        userinfo = await self._userinfo(ctx, tokens.access_token, claims)
        session = _session(tokens, scope=input.scope)
        if session.refresh_token is None:
            # The IdP did not rotate it: the one in the cookie stays valid.
            session = replace(session, refresh_token=input.refresh_token)
        return OAuthAuthenticatorResult(
            full_profile=OidcProfile(userinfo=userinfo, id_token_claims=claims),
            session=session,
        )

    async def logout(self, input: OAuthLogoutInput, ctx: OidcContext) -> str | None:
        """Revoke the refresh token where the IdP has a revocation endpoint.

        Args:
            input: the refresh token, if the browser had one.
            ctx: the environment's context.
        """
        if input.refresh_token:
            await ctx.idp.revoke(input.refresh_token, "refresh_token")
        return None

    async def default_profile_transform(
        self, result: OAuthAuthenticatorResult[OidcProfile], ctx: OidcContext
    ) -> ProfileInfo:
        """Email (only when `email_verified` is true), picture and name from userinfo.

        Args:
            result: what `authenticate` or `refresh` returned.
            ctx: the environment's context.
        """
        userinfo = result.full_profile.userinfo
        email = userinfo.get("email") if userinfo.get("email_verified") is True else None
        return ProfileInfo(
            email=email if isinstance(email, str) else None,
            picture=_text(userinfo.get("picture")),
            display_name=_text(userinfo.get("name")),
        )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _unverified_kid(id_token: str) -> str | None:
    """The `kid` of the token's header, to pick the key it claims; verified later."""
    kid = token_header(id_token).get("kid")
    return kid if isinstance(kid, str) else None
