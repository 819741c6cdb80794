"""The mock token grammar of mock auth and mock http auth, and mock_credentials."""

from __future__ import annotations

from typing import Any

import pytest
from backstage_backend_plugin_api import (
    BackstageNonePrincipal,
    BackstageServicePrincipal,
    BackstageUserPrincipal,
)
from backstage_backend_test_utils import mock_credentials, mock_services
from backstage_common.errors import AuthenticationError, NotAllowedError
from litestar.connection import ASGIConnection
from litestar.response import Response


def _request(headers: dict[str, str] | None = None) -> ASGIConnection[Any, Any, Any, Any]:
    scope: Any = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
    }
    return ASGIConnection(scope)


def test_headers_follow_the_mock_token_grammar() -> None:
    assert mock_credentials.user_header() == {"Authorization": "Bearer mock-user-token"}
    assert mock_credentials.user_header("user:default/x") == {
        "Authorization": 'Bearer mock-user-token:{"sub":"user:default/x"}'
    }
    assert mock_credentials.service_header() == {"Authorization": "Bearer mock-service-token"}
    assert mock_credentials.service_header("plugin:x", "catalog") == {
        "Authorization": 'Bearer mock-service-token:{"sub":"plugin:x","target":"catalog"}'
    }
    assert mock_credentials.none_header() == {"Authorization": "Bearer mock-none-token"}
    with pytest.raises(ValueError, match="Invalid user entity reference"):
        mock_credentials.user("not-a-ref")
    with pytest.raises(TypeError):
        mock_credentials()


def test_credentials_helpers_build_principals() -> None:
    assert mock_credentials.user().principal == BackstageUserPrincipal("user:default/mock")
    assert mock_credentials.service().principal == BackstageServicePrincipal(
        "external:test-service"
    )
    assert mock_credentials.none().principal == BackstageNonePrincipal()


@pytest.mark.parametrize(
    ("token", "principal"),
    [
        ("mock-user-token", BackstageUserPrincipal("user:default/mock")),
        ('mock-user-token:{"sub":"user:default/x"}', BackstageUserPrincipal("user:default/x")),
        ("mock-service-token", BackstageServicePrincipal("external:test-service")),
        ('mock-service-token:{"sub":"plugin:x"}', BackstageServicePrincipal("plugin:x")),
        (
            'mock-service-token:{"sub":"plugin:x","target":"catalog"}',
            BackstageServicePrincipal("plugin:x"),
        ),
        (
            'mock-service-token:{"obo":"user:default/x","target":"catalog"}',
            BackstageUserPrincipal("user:default/x"),
        ),
    ],
)
async def test_authenticate_accepts_mock_tokens(token: str, principal: object) -> None:
    auth = mock_services.auth("catalog")
    credentials = await auth.authenticate(token)
    assert credentials.principal == principal


@pytest.mark.parametrize(
    "token",
    [
        "mock-invalid-user-token",
        "mock-invalid-service-token",
        "mock-invalid-limited-user-token",
        "mock-none-token",
        "some-real-looking-token",
        "",
        "mock-user-token:{not json",
        "mock-user-token:[1]",
        'mock-user-token:{"sub":"nope"}',
    ],
)
async def test_authenticate_refuses_anything_else_as_an_illegal_token(token: str) -> None:
    with pytest.raises(AuthenticationError, match=r"^Illegal token$"):
        await mock_services.auth("catalog").authenticate(token)


async def test_a_service_token_for_another_target_is_refused() -> None:
    with pytest.raises(AuthenticationError, match="got 'catalog' but expected 'search'"):
        await mock_services.auth("search").authenticate(
            mock_credentials.service_token("plugin:x", "catalog")
        )


async def test_limited_user_tokens_need_limited_access() -> None:
    auth = mock_services.auth("catalog")
    token = mock_credentials.limited_user_token("user:default/x")
    with pytest.raises(AuthenticationError):
        await auth.authenticate(token)
    credentials = await auth.authenticate(token, allow_limited_access=True)
    assert credentials.principal == BackstageUserPrincipal("user:default/x")


async def test_plugin_request_tokens_round_trip_to_the_target_only() -> None:
    caller = mock_services.auth("caller")
    own = await caller.get_own_service_credentials()
    token = await caller.get_plugin_request_token(on_behalf_of=own, target_plugin_id="catalog")
    assert token.token == 'mock-service-token:{"sub":"plugin:caller","target":"catalog"}'
    received = await mock_services.auth("catalog").authenticate(token.token)
    assert received.principal == BackstageServicePrincipal("plugin:caller")
    with pytest.raises(AuthenticationError):
        await mock_services.auth("search").authenticate(token.token)

    user = mock_credentials.user("user:default/x")
    obo = await caller.get_plugin_request_token(on_behalf_of=user, target_plugin_id="catalog")
    on_behalf = await mock_services.auth("catalog").authenticate(obo.token)
    assert on_behalf.principal == BackstageUserPrincipal("user:default/x")


async def test_no_plugin_request_token_for_none_credentials_unless_the_policy_is_off() -> None:
    with pytest.raises(AuthenticationError, match="credential type 'none'"):
        await mock_services.auth("a").get_plugin_request_token(
            on_behalf_of=mock_credentials.none(), target_plugin_id="b"
        )
    disabled = mock_services.auth("a", disable_default_auth_policy=True)
    token = await disabled.get_plugin_request_token(
        on_behalf_of=mock_credentials.none(), target_plugin_id="b"
    )
    assert token.token == ""


async def test_http_auth_defaults_to_the_mock_user_without_a_token() -> None:
    http_auth = mock_services.http_auth("catalog")
    credentials = await http_auth.credentials(_request(), allow=["user"])
    assert credentials.principal == BackstageUserPrincipal("user:default/mock")


async def test_http_auth_respects_allow_like_the_default_http_auth() -> None:
    http_auth = mock_services.http_auth("catalog")
    with pytest.raises(AuthenticationError, match=r"^Missing credentials$"):
        await http_auth.credentials(
            _request(mock_credentials.none_header()), allow=["user", "service"]
        )
    with pytest.raises(NotAllowedError, match="does not allow 'user' credentials"):
        await http_auth.credentials(_request(mock_credentials.user_header()), allow=["service"])
    with pytest.raises(NotAllowedError, match="does not allow 'service' credentials"):
        await http_auth.credentials(_request(mock_credentials.service_header()), allow=["user"])
    none = await http_auth.credentials(_request(mock_credentials.none_header()), allow=["none"])
    assert none.principal == BackstageNonePrincipal()
    anything = await http_auth.credentials(_request(mock_credentials.service_header()))
    assert anything.principal == BackstageServicePrincipal("external:test-service")


async def test_http_auth_with_none_default_credentials_rejects_anonymous_requests() -> None:
    http_auth = mock_services.http_auth("catalog", default_credentials=mock_credentials.none())
    with pytest.raises(AuthenticationError, match="Missing credentials"):
        await http_auth.credentials(_request(), allow=["user", "service"])


async def test_http_auth_reads_the_cookie_only_with_limited_access() -> None:
    http_auth = mock_services.http_auth("catalog", default_credentials=mock_credentials.none())
    cookie = mock_credentials.limited_user_token("user:default/x")
    request = _request({"Cookie": f"backstage-auth={cookie}"})
    limited = await http_auth.credentials(request, allow=["user"], allow_limited_access=True)
    assert limited.principal == BackstageUserPrincipal("user:default/x")
    with pytest.raises(AuthenticationError, match="Missing credentials"):
        await http_auth.credentials(
            _request({"Cookie": f"backstage-auth={cookie}"}), allow=["user"]
        )


async def test_issue_user_cookie_sets_a_limited_user_token() -> None:
    http_auth = mock_services.http_auth("catalog")
    response: Response[Any] = Response(content=None)
    expires_at = await http_auth.issue_user_cookie(
        response, credentials=mock_credentials.user("user:default/x")
    )
    assert expires_at is not None
    [cookie] = response.cookies
    assert cookie.key == "backstage-auth"
    assert cookie.value == mock_credentials.limited_user_token("user:default/x")
