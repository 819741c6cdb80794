"""`auth.providers.github.<env>`: github.com by default, an Enterprise instance by URL."""

from __future__ import annotations

from typing import Any

import pytest
from backstage_common.config import Config, ConfigError
from backstage_common.errors import InputError
from backstage_plugin_auth_backend_module_github_provider import (
    GITHUB_COM,
    GithubSettings,
    read_github_settings,
)

ENV = "auth.providers.github.development"


def _read(**overrides: Any) -> GithubSettings:
    data = {"clientId": "Iv1.abc", "clientSecret": "secret", **overrides}
    data = {key: value for key, value in data.items() if value is not None}
    root = Config.from_data({"auth": {"providers": {"github": {"development": data}}}}, "test")
    return read_github_settings(root.get_config(ENV))


def test_github_com_by_default() -> None:
    settings = _read()
    assert settings.endpoints == GITHUB_COM
    assert (settings.client_id, settings.client_secret) == ("Iv1.abc", "secret")


@pytest.mark.parametrize("url", ["https://ghe.example.com", "https://ghe.example.com/"])
def test_enterprise_instance(url: str) -> None:
    endpoints = _read(enterpriseInstanceUrl=url).endpoints
    assert endpoints.authorize == "https://ghe.example.com/login/oauth/authorize"
    assert endpoints.token == "https://ghe.example.com/login/oauth/access_token"
    assert endpoints.user == "https://ghe.example.com/api/v3/user"


@pytest.mark.parametrize(
    ("overrides", "error", "message"),
    [
        ({"enterpriseInstanceUrl": "ghe.example.com"}, InputError, f"{ENV}.enterprise"),
        ({"enterpriseInstanceUrl": "ftp://ghe.example.com"}, InputError, "enterprise"),
        ({"enterpriseInstanceUrl": "https://ghe.example.com/?a=b"}, InputError, "enterprise"),
        ({"clientSecret": None}, ConfigError, "clientSecret"),
        ({"clientId": None}, ConfigError, "clientId"),
    ],
)
def test_bad_config_is_refused_naming_the_key(
    overrides: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        _read(**overrides)
