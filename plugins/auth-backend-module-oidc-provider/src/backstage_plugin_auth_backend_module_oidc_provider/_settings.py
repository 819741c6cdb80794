"""One environment's OIDC settings, `auth.providers.oidc.<env>`, read and checked once.

Keys, as Backstage's `oidc` provider reads them: `clientId`, `clientSecret`, `metadataUrl`
(the discovery document, or the issuer URL it is found under), `tokenEndpointAuthMethod`
(`client_secret_basic` default, `client_secret_post`), `tokenSignedResponseAlg` (`RS256`
default), `prompt` (`none` default, `auto` leaves it out), `timeout` (a duration, 10 s
default), `startUrlSearchParams`; `additionalScopes`, `callbackUrl`, `sessionDuration` and
`signIn` are read by the generic flow. A `scope` key is refused, as Backstage refuses it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Final, Literal
from urllib.parse import urlsplit

from backstage_common.config import Config
from backstage_common.durations import read_optional_duration
from backstage_common.errors import InputError

__all__ = ["DEFAULT_TIMEOUT", "OidcSettings", "TokenEndpointAuthMethod", "read_oidc_settings"]

TokenEndpointAuthMethod = Literal["client_secret_basic", "client_secret_post"]

DEFAULT_TIMEOUT: Final = timedelta(seconds=10)
_AUTH_METHODS: Final = ("client_secret_basic", "client_secret_post")
# What an ID token may be signed with: the IdP's keys (asymmetric) or the client secret
# (HS*, OpenID Connect Core 10.1). `none` is never accepted.
_SIGNING_ALGORITHMS: Final = frozenset(
    {
        "RS256",
        "RS384",
        "RS512",
        "PS256",
        "PS384",
        "PS512",
        "ES256",
        "ES384",
        "ES512",
        "EdDSA",
        "Ed25519",
        "HS256",
        "HS384",
        "HS512",
    }
)


@dataclass(frozen=True)
class OidcSettings:
    """What one environment of the `oidc` provider is configured with.

    Args:
        client_id: `clientId`, the client registered at the identity provider.
        client_secret: `clientSecret`.
        metadata_url: `metadataUrl`, where the discovery document is.
        token_endpoint_auth_method: how the client authenticates at the token endpoint.
        token_signed_response_alg: the one algorithm ID tokens must be signed with.
        prompt: the `prompt` sent to the identity provider, None to send none.
        timeout: the bound on each request to the identity provider.
        start_url_search_params: extra authorize parameters (`startUrlSearchParams`); the
            standard ones win over them.
    """

    client_id: str
    client_secret: str
    metadata_url: str
    token_endpoint_auth_method: TokenEndpointAuthMethod = "client_secret_basic"
    token_signed_response_alg: str = "RS256"
    prompt: str | None = "none"
    timeout: timedelta = DEFAULT_TIMEOUT
    start_url_search_params: Mapping[str, str] | None = None


def _http_url(config: Config, key: str) -> str:
    value = config.get_string(key)
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InputError(f"Invalid '{config.full_key(key)}': '{value}' is not an http(s) URL")
    return value


def _auth_method(config: Config) -> TokenEndpointAuthMethod:
    value = config.get_optional_string("tokenEndpointAuthMethod") or "client_secret_basic"
    if value == "client_secret_post":
        return "client_secret_post"
    if value == "client_secret_basic":
        return "client_secret_basic"
    raise InputError(
        f"Invalid '{config.full_key('tokenEndpointAuthMethod')}': '{value}', "
        f"use one of {', '.join(_AUTH_METHODS)}"
    )


def _signing_algorithm(config: Config) -> str:
    value = config.get_optional_string("tokenSignedResponseAlg") or "RS256"
    if value not in _SIGNING_ALGORITHMS:
        raise InputError(
            f"Invalid '{config.full_key('tokenSignedResponseAlg')}': '{value}' is not a "
            "supported ID token signing algorithm"
        )
    return value


def _search_params(config: Config) -> dict[str, str] | None:
    block = config.get_optional_config("startUrlSearchParams")
    if block is None:
        return None
    params: dict[str, str] = {}
    for key in block.keys():
        value = block.get(key)
        if value is None or not isinstance(value, str | int | float | bool):
            raise InputError(
                f"Invalid '{block.full_key(key)}': start URL search parameters are strings"
            )
        params[key] = str(value).lower() if isinstance(value, bool) else str(value)
    return params


def read_oidc_settings(config: Config) -> OidcSettings:
    """Read and check one environment's block; a bad value raises `InputError` naming it.

    Args:
        config: the environment's block, `auth.providers.oidc.<env>`.
    """
    if config.has("scope"):
        raise InputError(
            f"'{config.full_key('scope')}': the oidc provider no longer supports the "
            '"scope" configuration option. Please use the "additionalScopes" option instead.'
        )
    timeout = read_optional_duration(config, "timeout")
    if timeout is None:
        timeout = DEFAULT_TIMEOUT
    elif timeout <= timedelta(0):
        raise InputError(f"Invalid '{config.full_key('timeout')}', it must be longer than zero")
    return OidcSettings(
        client_id=config.get_string("clientId"),
        client_secret=config.get_string("clientSecret"),
        metadata_url=_http_url(config, "metadataUrl"),
        token_endpoint_auth_method=_auth_method(config),
        token_signed_response_alg=_signing_algorithm(config),
        prompt=_prompt(config),
        timeout=timeout,
        start_url_search_params=_search_params(config),
    )


def _prompt(config: Config) -> str | None:
    value = config.get_optional_string("prompt") or "none"
    return None if value == "auto" else value
