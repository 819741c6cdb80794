"""`auth.providers.oidc.<env>` read as Backstage reads it, bad values refused by name."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from backstage_common.config import Config, ConfigError
from backstage_common.errors import InputError
from backstage_plugin_auth_backend_module_oidc_provider import OidcSettings, read_oidc_settings

ENV = "auth.providers.oidc.development"
BASE = {
    "clientId": "backstage",
    "clientSecret": "secret",
    "metadataUrl": "https://idp.example.com/.well-known/openid-configuration",
}


def _read(**overrides: Any) -> OidcSettings:
    data = {key: value for key, value in {**BASE, **overrides}.items() if value is not None}
    root = Config.from_data({"auth": {"providers": {"oidc": {"development": data}}}}, "test")
    return read_oidc_settings(root.get_config(ENV))


def test_defaults_as_backstage() -> None:
    settings = _read()
    assert settings.token_endpoint_auth_method == "client_secret_basic"
    assert settings.token_signed_response_alg == "RS256"
    assert settings.prompt == "none"
    assert settings.timeout == timedelta(seconds=10)
    assert settings.start_url_search_params is None


def test_options() -> None:
    settings = _read(
        tokenEndpointAuthMethod="client_secret_post",
        tokenSignedResponseAlg="ES256",
        prompt="auto",
        timeout={"seconds": 3},
        startUrlSearchParams={"ui_locales": "fr", "max_age": 60, "login": True},
    )
    assert settings.token_endpoint_auth_method == "client_secret_post"
    assert settings.token_signed_response_alg == "ES256"
    assert settings.prompt is None
    assert settings.timeout == timedelta(seconds=3)
    assert settings.start_url_search_params == {
        "ui_locales": "fr",
        "max_age": "60",
        "login": "true",
    }
    assert _read(prompt="consent").prompt == "consent"


@pytest.mark.parametrize(
    ("overrides", "error", "message"),
    [
        ({"scope": "openid"}, InputError, "additionalScopes"),
        ({"tokenEndpointAuthMethod": "private_key_jwt"}, InputError, f"{ENV}.tokenEndpoint"),
        ({"tokenSignedResponseAlg": "none"}, InputError, "tokenSignedResponseAlg"),
        ({"metadataUrl": "idp.example.com"}, InputError, "metadataUrl"),
        ({"metadataUrl": "file:///etc/passwd"}, InputError, "metadataUrl"),
        ({"timeout": 0}, InputError, "timeout"),
        ({"startUrlSearchParams": {"a": {"b": 1}}}, InputError, "startUrlSearchParams"),
        ({"clientSecret": None}, ConfigError, "clientSecret"),
        ({"clientId": None}, ConfigError, "clientId"),
    ],
)
def test_bad_config_is_refused_naming_the_key(
    overrides: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        _read(**overrides)
