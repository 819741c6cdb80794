"""The guest authenticator decides alone whether a guest may sign in."""

from __future__ import annotations

import pytest
from backstage_common.config import Config
from backstage_common.errors import NotAllowedError
from backstage_plugin_auth_backend_module_guest_provider import GuestAuthenticator
from backstage_plugin_auth_node import AuthProviderRequest

REQUEST = AuthProviderRequest(method="GET", path="/guest/refresh")


@pytest.mark.parametrize(
    ("config", "development", "allowed"),
    [
        ({}, True, True),
        ({}, False, False),
        ({"dangerouslyAllowOutsideDevelopment": True}, False, True),
        ({"dangerouslyAllowOutsideDevelopment": False}, False, False),
    ],
)
async def test_guest_only_in_development_unless_dangerously_allowed(
    config: dict[str, bool], development: bool, allowed: bool
) -> None:
    authenticator = GuestAuthenticator()
    ctx = await authenticator.initialize(
        config=Config.from_data(config), is_development=development
    )
    if allowed:
        found = await authenticator.authenticate(REQUEST, ctx)
        assert found.provider_info is None
        profile = await authenticator.default_profile_transform(found.result, ctx)
        assert profile.to_json() == {}
    else:
        with pytest.raises(NotAllowedError, match="dangerouslyAllowOutsideDevelopment"):
            await authenticator.authenticate(REQUEST, ctx)
