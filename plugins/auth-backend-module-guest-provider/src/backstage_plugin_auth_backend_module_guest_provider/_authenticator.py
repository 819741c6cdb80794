"""The guest authenticator: anyone, in development only."""

from __future__ import annotations

from dataclasses import dataclass

from backstage_common.config import Config
from backstage_common.errors import NotAllowedError
from backstage_plugin_auth_node import AuthProviderRequest, ProfileInfo, ProxyAuthenticatorResult

__all__ = ["GuestAuthenticator", "GuestContext"]


@dataclass(frozen=True)
class GuestContext:
    disabled: bool


class GuestAuthenticator:
    """Signs in whoever asks, unless the backend is not in development (and the config
    does not say `dangerouslyAllowOutsideDevelopment: true`)."""

    async def initialize(self, *, config: Config, is_development: bool) -> GuestContext:
        allowed = config.get_optional_boolean("dangerouslyAllowOutsideDevelopment") is True
        return GuestContext(disabled=not is_development and not allowed)

    async def authenticate(
        self, request: AuthProviderRequest, ctx: GuestContext
    ) -> ProxyAuthenticatorResult[None]:
        if ctx.disabled:
            raise NotAllowedError(
                "The guest provider cannot be used outside of a development environment "
                "unless 'auth.providers.guest.dangerouslyAllowOutsideDevelopment' is enabled"
            )
        return ProxyAuthenticatorResult(result=None)

    async def default_profile_transform(self, result: None, ctx: GuestContext) -> ProfileInfo:
        return ProfileInfo()
