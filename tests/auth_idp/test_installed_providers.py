"""The `oidc` and `github` modules are installed with the auth plugin wherever it is hosted
(the `all` unit, and every unit the image runs): enabling one is configuration only, and
without its `auth.providers.<id>` block it only answers 404, as in Backstage."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from backstage_backend_test_utils import start_test_backend
from backstage_cli.units import load_unit
from backstage_plugin_auth_backend import auth_features

APP_URL = "http://localhost:3000"


def test_the_all_unit_installs_both_modules() -> None:
    modules = {
        feature.module_id
        for feature in load_unit("all").features()
        if feature.plugin_id == "auth" and hasattr(feature, "module_id")
    }
    assert {"oidc-provider", "github-provider"} <= modules


async def test_a_provider_is_enabled_by_configuration_alone() -> None:
    config = {
        "app": {"baseUrl": APP_URL},
        "auth": {
            "session": {"secret": "a-session-secret-for-this-test"},
            "providers": {
                "github": {"production": {"clientId": "Iv1.abc", "clientSecret": "secret"}}
            },
        },
    }
    async with start_test_backend(features=auth_features(), config=config) as test:
        missing = await test.client.get("/api/auth/oidc/start", params={"env": "production"})
        assert missing.status_code == 404
        assert missing.json()["error"]["message"] == "No auth provider registered for 'oidc'"

        started = await test.client.get(
            "/api/auth/github/start",
            params={"env": "production", "origin": APP_URL, "scope": "repo"},
        )
        assert started.status_code == 302, started.text
        location = urlsplit(started.headers["location"])
        assert f"{location.scheme}://{location.netloc}{location.path}" == (
            "https://github.com/login/oauth/authorize"
        )
        params = dict(parse_qsl(location.query))
        assert params["client_id"] == "Iv1.abc"
        assert params["scope"] == "repo read:user"
        assert params["redirect_uri"] == f"{test.base_url}/api/auth/github/handler/frame"
