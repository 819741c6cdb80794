"""One environment's OAuth routes: start, handler/frame, refresh and logout."""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import msgspec
from backstage_common.errors import (
    AuthenticationError,
    BackstageError,
    InputError,
    NotAllowedError,
)

from backstage_plugin_auth_node._authenticator import (
    OAuthAuthenticateInput,
    OAuthAuthenticator,
    OAuthLogoutInput,
    OAuthRefreshInput,
    OAuthStartInput,
    ProfileTransform,
)
from backstage_plugin_auth_node._identity import prepare_backstage_identity_response
from backstage_plugin_auth_node._oauth._cookies import OAuthCookies
from backstage_plugin_auth_node._oauth._popup import web_message_response
from backstage_plugin_auth_node._oauth._scopes import ScopeSet, split_scope
from backstage_plugin_auth_node._oauth._sealing import CookieSealer
from backstage_plugin_auth_node._oauth._state import decode_oauth_state, encode_oauth_state
from backstage_plugin_auth_node._oauth._urls import UrlParseError, parse_browser_url, url_origin
from backstage_plugin_auth_node._provider import (
    AuthProviderFactoryOptions,
    AuthProviderRequest,
    AuthProviderResponse,
)
from backstage_plugin_auth_node._resolvers import SignInInfo, SignInResolver
from backstage_plugin_auth_node._types import OAuthAuthenticatorResult, ProfileInfo

__all__ = ["OAuthEnvironmentRoutes"]

FLOW_TTL_SECONDS = 600


def _json(
    status: int, body: Mapping[str, Any], headers: list[tuple[str, str]]
) -> AuthProviderResponse:
    return AuthProviderResponse(
        status=status,
        body=msgspec.json.encode(body),
        headers=[("content-type", "application/json; charset=utf-8"), *headers],
    )


def _error_name(error: BaseException) -> str:
    name = getattr(error, "name", None)
    return name if isinstance(name, str) else "Error"


def _exposable(error: BaseException) -> bool:
    # errors raised on purpose carry a `name`; anything else may hold internals
    return isinstance(error, BackstageError) or isinstance(getattr(error, "name", None), str)


@dataclass(frozen=True)
class _Flow:
    state: dict[str, str]
    origin: str
    redirect_url: str | None


class OAuthEnvironmentRoutes:
    """The flow of one provider environment around its authenticator and context."""

    def __init__(
        self,
        *,
        options: AuthProviderFactoryOptions,
        authenticator: OAuthAuthenticator[Any, Any],
        context: Any,
        callback_url: str,
        cookies: OAuthCookies,
        sealer: CookieSealer,
        scopes: ScopeSet,
        sign_in_resolver: SignInResolver[Any] | None,
        profile_transform: ProfileTransform[Any, Any] | None,
    ) -> None:
        self._options = options
        self._authenticator = authenticator
        self._context = context
        self._callback_url = callback_url
        self._cookies = cookies
        self._sealer = sealer
        self._scopes = scopes
        self._resolver = sign_in_resolver
        self._profile_transform = profile_transform
        self._persist_scopes = authenticator.should_persist_scopes
        self._default_origin = url_origin(parse_browser_url(options.app_url))

    # -- checks ---------------------------------------------------------------------------

    def _allowed_origin(self, text: str, *, invalid: type[BackstageError]) -> str:
        try:
            origin = url_origin(parse_browser_url(text))
        except UrlParseError:
            raise invalid("App origin is invalid, failed to parse") from None
        if not self._options.is_origin_allowed(origin):
            raise NotAllowedError(f"Origin '{origin}' is not allowed")
        return origin

    def _redirect_url(self, value: str | None) -> str:
        if not value:
            raise InputError("No redirectUrl provided in request query parameters")
        try:
            parts = parse_browser_url(value)
        except UrlParseError:
            raise InputError("Redirect URL is invalid, failed to parse") from None
        if parts.scheme.lower() not in ("http", "https") or not self._options.is_origin_allowed(
            url_origin(parts)
        ):
            raise NotAllowedError("Redirect URL is not an allowed origin")
        return value

    @staticmethod
    def _require_xhr(request: AuthProviderRequest) -> None:
        if request.headers.get("x-requested-with") != "XMLHttpRequest":
            raise AuthenticationError("Invalid X-Requested-With header")

    def _flow_id(self, nonce: str) -> str:
        text = f"{self._options.provider_id}\n{nonce}".encode()
        return hashlib.sha256(text).hexdigest()

    def _refresh_token(self, request: AuthProviderRequest) -> str | None:
        sealed = OAuthCookies.read(request.cookies, self._cookies.refresh_cookie)
        if sealed is None:
            return None
        return self._sealer.open(self._cookies.refresh_cookie, sealed)

    async def _profile(self, result: OAuthAuthenticatorResult[Any]) -> ProfileInfo:
        if self._profile_transform is not None:
            return await self._profile_transform(result, self._context)
        return await self._authenticator.default_profile_transform(result, self._context)

    @staticmethod
    def _provider_info(result: OAuthAuthenticatorResult[Any], scope: str) -> dict[str, Any]:
        info: dict[str, Any] = {
            "idToken": result.session.id_token,
            "accessToken": result.session.access_token,
            "scope": scope,
            "expiresInSeconds": result.session.expires_in_seconds,
        }
        return {key: value for key, value in info.items() if value is not None}

    # -- routes ---------------------------------------------------------------------------

    async def start(self, request: AuthProviderRequest) -> AuthProviderResponse:
        query = request.query
        origin = query.get("origin")
        if origin is not None:
            origin = self._allowed_origin(origin, invalid=InputError)
        redirect_url = query.get("redirectUrl")
        flow = query.get("flow")
        if flow == "redirect":
            self._redirect_url(redirect_url)
        env = query.get("env")
        if not env:
            raise InputError("No env provided in request query parameters")
        nonce = base64.b64encode(os.urandom(16)).decode()
        granted = (
            split_scope(OAuthCookies.read(request.cookies, self._cookies.scope_cookie))
            if self._persist_scopes
            else []
        )
        scope = self._scopes.combine(split_scope(query.get("scope")), granted)
        state: dict[str, str | None] = {
            "nonce": nonce,
            "env": env,
            "origin": origin,
            "redirectUrl": redirect_url,
            "flow": flow,
        }
        if self._persist_scopes:
            state["scope"] = scope
        encoded = encode_oauth_state(state)
        started = await self._authenticator.start(
            OAuthStartInput(scope=scope, state=encoded, callback_url=self._callback_url),
            self._context,
        )
        await self._options.flow_state.save(
            self._flow_id(nonce),
            {
                "state": hashlib.sha256(encoded.encode()).hexdigest(),
                "transient": msgspec.json.encode(dict(started.transient)).decode(),
            },
            ttl_seconds=FLOW_TTL_SECONDS,
        )
        headers: list[tuple[str, str]] = []
        self._cookies.set_nonce(headers, nonce, origin)
        headers += [("location", started.url), ("content-length", "0")]
        return AuthProviderResponse(status=302, headers=headers)

    async def frame_handler(self, request: AuthProviderRequest) -> AuthProviderResponse:
        origin = self._default_origin
        state: dict[str, str] | None = None
        try:
            state = decode_oauth_state(request.query.get("state", ""))
            flow = self._check_callback(request, state)
            origin = flow.origin
            return await self._complete(request, flow)
        except Exception as error:  # every failure is answered to the app, as Backstage does
            return self._frame_error(error, origin, state)

    def _check_callback(self, request: AuthProviderRequest, state: dict[str, str]) -> _Flow:
        redirect_url = None
        if state.get("flow") == "redirect":
            redirect_url = self._redirect_url(state.get("redirectUrl"))
        origin = self._default_origin
        if state.get("origin"):
            origin = self._allowed_origin(state["origin"], invalid=NotAllowedError)
        cookie_nonce = OAuthCookies.read(request.cookies, self._cookies.nonce_cookie)
        if not cookie_nonce:
            raise NotAllowedError("Auth response is missing cookie nonce")
        if cookie_nonce != state["nonce"]:
            raise NotAllowedError("Invalid nonce")
        return _Flow(state=state, origin=origin, redirect_url=redirect_url)

    async def _complete(self, request: AuthProviderRequest, flow: _Flow) -> AuthProviderResponse:
        saved = await self._options.flow_state.consume(self._flow_id(flow.state["nonce"]))
        digest = hashlib.sha256(request.query.get("state", "").encode()).hexdigest()
        if saved is None or saved.get("state") != digest:
            raise NotAllowedError("OAuth flow is unknown, expired or already completed")
        transient = msgspec.json.decode(saved.get("transient", "{}"), type=dict[str, str])
        result = await self._authenticator.authenticate(
            OAuthAuthenticateInput(
                query=request.query,
                callback_url=self._callback_url,
                transient=transient,
                form=request.form,
            ),
            self._context,
        )
        profile = await self._profile(result)
        identity = None
        if self._resolver is not None:
            signed_in = await self._resolver(
                SignInInfo(profile=profile, result=result), self._options.resolver_context
            )
            identity = prepare_backstage_identity_response(signed_in)
        headers: list[tuple[str, str]] = []
        if self._persist_scopes:
            granted = flow.state.get("scope")
            if granted is None:
                raise AuthenticationError("No scope found in OAuth state")
            self._cookies.set(
                headers, request.cookies, self._cookies.scope_cookie, granted, flow.origin
            )
        else:
            granted = " ".join(split_scope(result.session.scope))
        response: dict[str, Any] = {
            "profile": profile.to_json(),
            "providerInfo": self._provider_info(result, granted),
        }
        if identity is not None:
            response["backstageIdentity"] = identity.to_json()
        if result.session.refresh_token:
            sealed = self._sealer.seal(self._cookies.refresh_cookie, result.session.refresh_token)
            self._cookies.set(
                headers, request.cookies, self._cookies.refresh_cookie, sealed, flow.origin
            )
        if flow.redirect_url is not None:
            return AuthProviderResponse(
                status=302,
                headers=[*headers, ("location", flow.redirect_url), ("content-length", "0")],
            )
        page = web_message_response(
            flow.origin, {"type": "authorization_response", "response": response}
        )
        return AuthProviderResponse(
            status=page.status, body=page.body, headers=[*page.headers, *headers]
        )

    def _frame_error(
        self, error: Exception, origin: str, state: dict[str, str] | None
    ) -> AuthProviderResponse:
        name = _error_name(error)
        message = str(error) if _exposable(error) else "Sign-in failed"
        self._options.logger.warn(
            f"Sign-in with {self._options.provider_id} failed: {name}",
            {"error": error} if not _exposable(error) else {"reason": message},
        )
        if state is not None and state.get("flow") == "redirect":
            parts = parse_browser_url(self._options.app_url)
            target = parts._replace(
                path=parts.path or "/", query=urlencode({"error": message}), fragment=""
            ).geturl()
            return AuthProviderResponse(
                status=302, headers=[("location", target), ("content-length", "0")]
            )
        return web_message_response(
            origin, {"type": "authorization_response", "error": {"name": name, "message": message}}
        )

    async def refresh(self, request: AuthProviderRequest) -> AuthProviderResponse:
        self._require_xhr(request)
        try:
            return await self._refresh(request)
        except Exception as error:
            raise AuthenticationError("Refresh failed", error) from error

    async def _refresh(self, request: AuthProviderRequest) -> AuthProviderResponse:
        if OAuthCookies.read(request.cookies, self._cookies.refresh_cookie) is None:
            raise InputError("Missing session cookie")
        refresh_token = self._refresh_token(request)
        if refresh_token is None:
            raise InputError("Invalid session cookie")
        granted = (
            split_scope(OAuthCookies.read(request.cookies, self._cookies.scope_cookie))
            if self._persist_scopes
            else []
        )
        scope = self._scopes.combine(split_scope(request.query.get("scope")), granted)
        result = await self._authenticator.refresh(
            OAuthRefreshInput(
                refresh_token=refresh_token,
                scope=scope,
                scope_already_granted=ScopeSet.already_granted(granted, scope)
                if self._persist_scopes
                else True,
            ),
            self._context,
        )
        origin = request.headers.get("origin")
        headers: list[tuple[str, str]] = []
        if self._persist_scopes:
            self._cookies.set(headers, request.cookies, self._cookies.scope_cookie, scope, origin)
            granted_scope = scope
        else:
            granted_scope = " ".join(split_scope(result.session.scope))
        profile = await self._profile(result)
        new_token = result.session.refresh_token
        if new_token and new_token != refresh_token:
            sealed = self._sealer.seal(self._cookies.refresh_cookie, new_token)
            self._cookies.set(
                headers, request.cookies, self._cookies.refresh_cookie, sealed, origin
            )
        body: dict[str, Any] = {
            "profile": profile.to_json(),
            "providerInfo": self._provider_info(result, granted_scope),
        }
        if self._resolver is not None:
            signed_in = await self._resolver(
                SignInInfo(profile=profile, result=result), self._options.resolver_context
            )
            body["backstageIdentity"] = prepare_backstage_identity_response(signed_in).to_json()
        return _json(200, body, headers)

    async def logout(self, request: AuthProviderRequest) -> AuthProviderResponse:
        self._require_xhr(request)
        origin = request.headers.get("origin")
        if origin and not self._options.is_origin_allowed(origin):
            raise NotAllowedError(f"Origin '{origin}' is not allowed")
        logout_url = await self._authenticator.logout(
            OAuthLogoutInput(refresh_token=self._refresh_token(request)), self._context
        )
        headers: list[tuple[str, str]] = []
        self._cookies.remove(headers, request.cookies, self._cookies.refresh_cookie, origin)
        if self._persist_scopes:
            self._cookies.remove(headers, request.cookies, self._cookies.scope_cookie, origin)
        if logout_url and _followable(logout_url):
            return _json(200, {"logoutUrl": logout_url}, headers)
        return AuthProviderResponse(status=200, headers=headers)


def _followable(url: str) -> bool:
    try:
        parts = parse_browser_url(url)
    except UrlParseError:
        return False
    return parts.scheme.lower() == "https" or parts.hostname == "localhost"
