"""`DefaultAuthService`: who a token belongs to, and tokens for calling other plugins.

A token is tried as a plugin token (signed by the calling plugin, verified with its
published keys), then as a user token (signed by the auth backend), then as an
external-access token. A call on behalf of a user carries the user's limited token in the
plugin token's `obo` claim; the receiver verifies both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from backstage_backend_plugin_api import (
    BackstageCredentials,
    BackstageNonePrincipal,
    BackstagePrincipal,
    BackstageServicePrincipal,
    BackstageUserPrincipal,
    LimitedUserToken,
    PluginRequestToken,
    PrincipalType,
)
from backstage_common.errors import AuthenticationError, NotAllowedError

from backstage_backend_defaults.auth._external_access import ExternalAccessEntry, ExternalTokens
from backstage_backend_defaults.auth._plugin_tokens import PluginTokenHandler
from backstage_backend_defaults.auth._user_tokens import UserTokenHandler

__all__ = ["DefaultAuthService", "check_principal_allowed"]


def check_principal_allowed(
    credentials: BackstageCredentials[BackstagePrincipal], allow: Sequence[PrincipalType] | None
) -> BackstageCredentials[BackstagePrincipal]:
    """401 for missing credentials, 403 for a principal type the endpoint does not allow."""
    kind = credentials.principal.type
    if allow is not None and kind not in allow:
        if kind == "none":
            raise AuthenticationError("Missing credentials")
        raise NotAllowedError(f"This endpoint does not allow '{kind}' credentials")
    return credentials


class DefaultAuthService:
    """`core.auth` of one plugin."""

    def __init__(
        self,
        plugin_id: str,
        plugin_tokens: PluginTokenHandler,
        user_tokens: UserTokenHandler,
        external: ExternalTokens,
        *,
        policy_disabled: bool,
    ) -> None:
        self._plugin_id = plugin_id
        self.plugin_tokens = plugin_tokens
        self._user_tokens = user_tokens
        self._external = external
        self._policy_disabled = policy_disabled

    async def authenticate(
        self, token: str, *, allow_limited_access: bool = False
    ) -> BackstageCredentials[BackstagePrincipal]:
        plugin = await self.plugin_tokens.verify_token(token)
        if plugin is not None:
            if plugin.on_behalf_of is None:
                return BackstageCredentials(BackstageServicePrincipal(plugin.subject), token=token)
            user = await self._user_tokens.verify_token(plugin.on_behalf_of)
            if user is None:
                raise AuthenticationError("Invalid user token in plugin token obo claim")
            return BackstageCredentials(
                BackstageUserPrincipal(
                    user.user_entity_ref, actor=BackstageServicePrincipal(plugin.subject)
                ),
                expires_at=user.expires_at,
                token=plugin.on_behalf_of,
            )
        user = await self._user_tokens.verify_token(token)
        if user is not None:
            if user.limited and not allow_limited_access:
                raise AuthenticationError("Illegal limited user token")
            return BackstageCredentials(
                BackstageUserPrincipal(user.user_entity_ref),
                expires_at=user.expires_at,
                token=token,
            )
        entry = self._external.verify(token)
        if entry is not None:
            return self._external_credentials(entry, token)
        raise AuthenticationError("Illegal token")

    def _external_credentials(
        self, entry: ExternalAccessEntry, token: str
    ) -> BackstageCredentials[BackstagePrincipal]:
        restrictions = None
        if entry.restrictions is not None:
            if self._plugin_id not in entry.restrictions:
                allowed = ", ".join(f"'{plugin}'" for plugin in entry.restrictions)
                raise NotAllowedError(f"This token's access is restricted to plugin(s) {allowed}")
            restrictions = entry.restrictions[self._plugin_id]
        return BackstageCredentials(
            BackstageServicePrincipal(entry.subject, access_restrictions=restrictions),
            token=token,
        )

    def is_static_token_allowed(self, token: str) -> bool:
        """A configured static token that may call this plugin (checked without awaiting)."""
        entry = self._external.find_static(token)
        return entry is not None and (
            entry.restrictions is None or self._plugin_id in entry.restrictions
        )

    async def get_none_credentials(self) -> BackstageCredentials[BackstageNonePrincipal]:
        return BackstageCredentials(BackstageNonePrincipal())

    async def get_own_service_credentials(
        self,
    ) -> BackstageCredentials[BackstageServicePrincipal]:
        return BackstageCredentials(BackstageServicePrincipal(f"plugin:{self._plugin_id}"))

    async def get_plugin_request_token(
        self, *, on_behalf_of: BackstageCredentials[Any], target_plugin_id: str
    ) -> PluginRequestToken:
        principal = on_behalf_of.principal
        if isinstance(principal, BackstageServicePrincipal):
            if principal.access_restrictions is not None:
                raise NotAllowedError(
                    "Refused to forward service credentials with access restrictions "
                    f"to plugin '{target_plugin_id}'"
                )
            return PluginRequestToken(await self.plugin_tokens.issue_token(target_plugin_id))
        if isinstance(principal, BackstageUserPrincipal):
            limited = self._limited(on_behalf_of)
            token = await self.plugin_tokens.issue_token(
                target_plugin_id, on_behalf_of=(limited.token, limited.expires_at)
            )
            return PluginRequestToken(token)
        if isinstance(principal, BackstageNonePrincipal) and self._policy_disabled:
            return PluginRequestToken("")  # unauthenticated calls stay unauthenticated
        kind = getattr(principal, "type", type(principal).__name__)
        raise AuthenticationError(f"Refused to issue service token for credential type '{kind}'")

    async def get_limited_user_token(
        self, credentials: BackstageCredentials[BackstageUserPrincipal]
    ) -> LimitedUserToken:
        return self._limited(credentials)

    def _limited(self, credentials: BackstageCredentials[Any]) -> LimitedUserToken:
        if not isinstance(credentials.principal, BackstageUserPrincipal):
            kind = getattr(credentials.principal, "type", "unknown")
            raise AuthenticationError(
                f"Refused to issue limited user token for credential type '{kind}'"
            )
        if not credentials.token:
            raise AuthenticationError("User credentials is unexpectedly missing token")
        return self._user_tokens.create_limited_user_token(credentials.token)

    async def list_public_service_keys(self) -> dict[str, Any]:
        return {"keys": await self.plugin_tokens.list_public_keys()}
