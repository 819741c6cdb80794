"""The auth plugin's routes: providers, OpenID discovery, JWKS and userinfo.

Every route is open (the plugin allows `/` unauthenticated, as Backstage's auth plugin
does); `/v1/userinfo` checks its bearer token itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from backstage_backend_plugin_api import AuthService, BackstageUserPrincipal, is_principal
from backstage_common.errors import AuthenticationError, InputError, NotFoundError
from backstage_plugin_auth_node import AuthProviderRequest, AuthProviderResponse
from litestar import Request, Response, get, route
from litestar.enums import HttpMethod
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath
from litestar.response.base import ASGIResponse

from backstage_plugin_auth_backend._keys import SigningKeys
from backstage_plugin_auth_backend._providers import ProviderRoutes
from backstage_plugin_auth_backend._stores import UserInfoStore

__all__ = ["auth_routes"]

_BEARER = re.compile(r"^Bearer[ ]+(\S+)$", re.IGNORECASE)
_FORM = "application/x-www-form-urlencoded"
_ALGORITHMS = [
    "RS256",
    "RS384",
    "RS512",
    "ES256",
    "ES384",
    "ES512",
    "PS256",
    "PS384",
    "PS512",
    "EdDSA",
]


async def _provider_request(request: Request[Any, Any, Any], path: str) -> AuthProviderRequest:
    query = {key: request.query_params.get(key) or "" for key in request.query_params}
    form: dict[str, str] = {}
    if request.method == "POST" and request.headers.get("content-type", "").startswith(_FORM):
        data = await request.form()
        form = {key: str(data.get(key)) for key in data}
    return AuthProviderRequest(
        method=request.method,
        path=path,
        query=query,
        headers={key.lower(): value for key, value in request.headers.items()},
        cookies=dict(request.cookies),
        form=form,
    )


def _asgi(response: AuthProviderResponse) -> ASGIResponse:
    return ASGIResponse(
        body=response.body, status_code=response.status, headers=list(response.headers)
    )


async def _dispatch(
    providers: Mapping[str, ProviderRoutes],
    request: Request[Any, Any, Any],
    provider_id: str,
    rest: str,
) -> ASGIResponse:
    provider = providers.get(provider_id)
    if provider is None:
        raise NotFoundError(f"Unknown auth provider '{provider_id}'")
    if provider.handlers is None:
        raise NotFoundError(provider.unavailable or f"Unknown auth provider '{provider_id}'")
    handlers = provider.handlers
    method = request.method
    provider_request = await _provider_request(request, f"/{provider_id}{rest}")
    response: AuthProviderResponse | None = None
    if rest == "/start" and method in ("GET", "HEAD"):
        response = await handlers.start(provider_request)
    elif rest == "/handler/frame" and method in ("GET", "HEAD", "POST"):
        response = await handlers.frame_handler(provider_request)
    elif rest == "/refresh" and method in ("GET", "HEAD", "POST"):
        response = await handlers.refresh(provider_request)
    elif rest == "/logout" and method == "POST":
        response = await handlers.logout(provider_request)
    if response is None:
        raise NotFoundError(f"Unknown auth provider '{provider_id}'")
    return _asgi(response)


def auth_routes(
    *,
    base_url: str,
    providers: Mapping[str, ProviderRoutes],
    keys: SigningKeys,
    user_info: UserInfoStore,
    auth: AuthService,
) -> list[HTTPRouteHandler]:
    """The plugin's route handlers."""

    @get("/.well-known/openid-configuration")
    async def openid_configuration() -> dict[str, Any]:
        return {
            "issuer": base_url,
            "token_endpoint": f"{base_url}/v1/token",
            "userinfo_endpoint": f"{base_url}/v1/userinfo",
            "jwks_uri": f"{base_url}/.well-known/jwks.json",
            "response_types_supported": ["code", "id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": _ALGORITHMS,
            "scopes_supported": ["openid"],
            "token_endpoint_auth_methods_supported": [],
            "claims_supported": ["sub", "ent"],
            "grant_types_supported": ["authorization_code"],
            "authorization_endpoint": f"{base_url}/v1/authorize",
            "code_challenge_methods_supported": ["S256"],
        }

    @get("/.well-known/jwks.json")
    async def jwks() -> dict[str, Any]:
        return {"keys": await keys.public_keys()}

    @get("/v1/userinfo")
    async def userinfo(request: Request[Any, Any, Any]) -> Response[Any]:
        match = _BEARER.match(request.headers.get("authorization", ""))
        if match is None:
            raise AuthenticationError("No token provided")
        credentials = await auth.authenticate(match.group(1), allow_limited_access=True)
        if not is_principal(credentials, BackstageUserPrincipal):
            raise InputError(
                "Userinfo endpoint must be called with a token that represents a user principal"
            )
        info = await user_info.get(credentials.principal.user_entity_ref)
        if info is None:
            return Response(content="User info not found", status_code=404, media_type="text/plain")
        return Response(content=info, status_code=200)

    methods = [HttpMethod.GET, HttpMethod.POST, HttpMethod.PUT, HttpMethod.PATCH, HttpMethod.DELETE]

    @route("/{provider_id:str}/{rest:path}", http_method=methods)
    async def provider_route(
        request: Request[Any, Any, Any], provider_id: FromPath[str], rest: FromPath[str]
    ) -> ASGIResponse:
        return await _dispatch(providers, request, provider_id, rest)

    @route("/{provider_id:str}", http_method=methods)
    async def provider_root(
        request: Request[Any, Any, Any], provider_id: FromPath[str]
    ) -> ASGIResponse:
        raise NotFoundError(f"Unknown auth provider '{provider_id}'")

    return [openid_configuration, jwks, userinfo, provider_route, provider_root]
