"""The identity provider as the client sees it: its discovery document and keys (both
cached), and its token, userinfo and revocation endpoints.

Every call is bounded by the environment's `timeout`. An identity provider that cannot be
reached, or answers 5xx, is a `ServiceUnavailableError`; one that refuses (an OAuth error
body) is an `AuthenticationError` carrying its `error` code. Neither message ever carries a
token, a code or the client secret.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import quote_plus, urlsplit

import httpx
import msgspec
from backstage_common.errors import AuthenticationError
from backstage_plugin_auth_node import send_to_provider
from joserfc.errors import JoseError
from joserfc.jwk import JWKRegistry, Key

from backstage_plugin_auth_backend_module_oidc_provider._settings import OidcSettings

__all__ = ["IdentityProvider", "ProviderMetadata", "TokenResponse"]

# A token signed by a key the cached set lacks makes the set be fetched again (the IdP
# rotated its keys), at most this often, so forged tokens cannot make us hammer the IdP.
_KEYS_REFETCH_INTERVAL: Final = 30.0
_WELL_KNOWN: Final = "/.well-known/openid-configuration"
# Error text from the IdP is shown to the user; keep it short.
_MAX_ERROR_TEXT: Final = 200


class ProviderMetadata(msgspec.Struct, frozen=True):
    """The parts of the discovery document the client uses (OpenID Connect Discovery 1.0)."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str | None = None
    userinfo_endpoint: str | None = None
    revocation_endpoint: str | None = None
    code_challenge_methods_supported: list[str] | None = None
    authorization_response_iss_parameter_supported: bool = False


class TokenResponse(msgspec.Struct, frozen=True):
    """A token endpoint's success answer (RFC 6749 5.1, OpenID Connect Core 3.1.3.3)."""

    access_token: str
    token_type: str = "bearer"
    expires_in: int | None = None
    refresh_token: str | None = None
    refresh_token_expires_in: int | None = None
    id_token: str | None = None
    scope: str | None = None


def _discovery_url(metadata_url: str) -> str:
    """`metadataUrl` may name the document itself or the issuer it is published under."""
    if "/.well-known/" in urlsplit(metadata_url).path:
        return metadata_url
    return metadata_url.rstrip("/") + _WELL_KNOWN


def _short(text: object) -> str:
    value = str(text)
    return value if len(value) <= _MAX_ERROR_TEXT else value[:_MAX_ERROR_TEXT] + "..."


def _oauth_error(response: httpx.Response, what: str) -> AuthenticationError:
    """The IdP's refusal: its `error` code and description, never the request."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        description = body.get("error_description")
        detail = _short(body["error"])
        if isinstance(description, str) and description:
            detail += f" ({_short(description)})"
        return AuthenticationError(f"The identity provider refused {what}: {detail}")
    return AuthenticationError(
        f"The identity provider refused {what} with status {response.status_code}"
    )


def _import_keys(document: object) -> list[Key]:
    """The usable signing keys of a JWKS; keys of other types or uses are skipped."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise AuthenticationError("The identity provider's JWKS is not a key set")
    keys: list[Key] = []
    for data in document["keys"]:
        if not isinstance(data, dict) or data.get("use") not in (None, "sig"):
            continue
        try:
            keys.append(JWKRegistry.import_key(data))
        except (JoseError, ValueError, TypeError, KeyError):
            continue
    return keys


class IdentityProvider:
    """One environment's identity provider, reached with the plugin's HTTP client.

    Args:
        settings: the environment's settings.
        http: the HTTP client (owned by the module, closed at shutdown).
    """

    def __init__(self, settings: OidcSettings, http: httpx.AsyncClient) -> None:
        self._settings = settings
        self._http = http
        self._timeout = settings.timeout.total_seconds()
        self._metadata: ProviderMetadata | None = None
        self._metadata_lock = asyncio.Lock()
        self._keys: list[Key] = []
        self._keys_fetched_at: float | None = None
        self._keys_lock = asyncio.Lock()

    async def _send(self, request: httpx.Request, what: str) -> httpx.Response:
        return await send_to_provider(
            self._http, request, provider="The identity provider", what=what
        )

    async def _get_json(self, url: str, what: str, token: str | None = None) -> Any:
        headers = {"accept": "application/json"}
        if token is not None:
            headers["authorization"] = f"Bearer {token}"
        request = self._http.build_request("GET", url, headers=headers, timeout=self._timeout)
        response = await self._send(request, what)
        if response.status_code != 200:
            raise _oauth_error(response, what)
        try:
            return response.json()
        except ValueError:
            raise AuthenticationError(
                f"The identity provider answered {what} with something other than JSON"
            ) from None

    async def metadata(self) -> ProviderMetadata:
        """The discovery document, fetched once; a failed fetch is tried again next time."""
        if self._metadata is not None:
            return self._metadata
        async with self._metadata_lock:
            if self._metadata is None:
                url = _discovery_url(self._settings.metadata_url)
                document = await self._get_json(url, "the discovery document request")
                try:
                    self._metadata = msgspec.convert(document, ProviderMetadata, strict=False)
                except msgspec.ValidationError as error:
                    raise AuthenticationError(
                        f"The identity provider's discovery document is invalid: {error}"
                    ) from None
            return self._metadata

    async def signing_keys(self, kid: str | None) -> list[Key]:
        """The IdP's keys; fetched again when none has id `kid` (at most every 30 s)."""
        known = any(key.kid == kid for key in self._keys) if kid else bool(self._keys)
        if known and self._keys_fetched_at is not None:
            return self._keys
        async with self._keys_lock:
            fetched_at = self._keys_fetched_at
            if fetched_at is None or time.monotonic() - fetched_at >= _KEYS_REFETCH_INTERVAL:
                metadata = await self.metadata()
                if metadata.jwks_uri is None:
                    raise AuthenticationError("The identity provider publishes no jwks_uri")
                document = await self._get_json(metadata.jwks_uri, "the JWKS request")
                self._keys = _import_keys(document)
                self._keys_fetched_at = time.monotonic()
            return self._keys

    def _client_auth(self, form: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
        """The form and headers that authenticate the client (RFC 6749 2.3.1)."""
        settings = self._settings
        if settings.token_endpoint_auth_method == "client_secret_post":
            credentials = {"client_id": settings.client_id, "client_secret": settings.client_secret}
            return {**form, **credentials}, {}
        # Basic credentials are form-encoded before base64, as RFC 6749 2.3.1 says.
        pair = f"{quote_plus(settings.client_id)}:{quote_plus(settings.client_secret)}"
        basic = base64.b64encode(pair.encode()).decode("ascii")
        return form, {"authorization": f"Basic {basic}"}

    async def _post_form(self, url: str, form: Mapping[str, str], what: str) -> httpx.Response:
        body, headers = self._client_auth(dict(form))
        request = self._http.build_request(
            "POST",
            url,
            data=body,
            headers={"accept": "application/json", **headers},
            timeout=self._timeout,
        )
        return await self._send(request, what)

    async def _token_request(self, form: Mapping[str, str], what: str) -> TokenResponse:
        metadata = await self.metadata()
        response = await self._post_form(metadata.token_endpoint, form, what)
        if response.status_code != 200:
            raise _oauth_error(response, what)
        try:
            return msgspec.json.decode(response.content, type=TokenResponse, strict=False)
        except msgspec.DecodeError:
            raise AuthenticationError(
                f"The identity provider's answer to {what} is not a token response"
            ) from None

    async def exchange_code(
        self, *, code: str, redirect_uri: str, code_verifier: str | None
    ) -> TokenResponse:
        """Trade an authorization code for tokens (`authorization_code` grant)."""
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        if code_verifier is not None:
            form["code_verifier"] = code_verifier
        return await self._token_request(form, "the authorization code")

    async def refresh(self, refresh_token: str) -> TokenResponse:
        """Fresh tokens for a refresh token (`refresh_token` grant)."""
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        return await self._token_request(form, "the refresh token")

    async def userinfo(self, access_token: str) -> dict[str, Any]:
        """The userinfo endpoint's claims for an access token."""
        metadata = await self.metadata()
        if metadata.userinfo_endpoint is None:
            raise AuthenticationError(
                "OIDC IdP must provide a userinfo_endpoint in the metadata response"
            )
        claims = await self._get_json(
            metadata.userinfo_endpoint, "the userinfo request", token=access_token
        )
        if not isinstance(claims, dict) or not isinstance(claims.get("sub"), str):
            raise AuthenticationError("The identity provider's userinfo has no subject")
        return claims

    async def revoke(self, token: str, token_type_hint: str) -> bool:
        """Revoke a token (RFC 7009) when the IdP has a revocation endpoint; whether it had."""
        metadata = await self.metadata()
        if metadata.revocation_endpoint is None:
            return False
        form = {"token": token, "token_type_hint": token_type_hint}
        response = await self._post_form(metadata.revocation_endpoint, form, "the token revocation")
        if response.status_code != 200:
            raise _oauth_error(response, "the token revocation")
        return True
