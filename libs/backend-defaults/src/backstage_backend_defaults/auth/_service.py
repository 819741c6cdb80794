"""`DefaultAuthService`: who a token belongs to, and tokens for calling other plugins.

A token is tried as a plugin token (signed by the calling plugin, verified with its
published keys), then as a user token, then as an external-access token.

User tokens are issued by an auth backend with its own user identity keys; this backend
has none, so user tokens, limited user tokens and calls on behalf of a user are refused
with a typed error saying so (401 for a token presented, 501 for one asked for).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jwt
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
from backstage_common.errors import AuthenticationError, NotAllowedError, NotImplementedError

from backstage_backend_defaults.auth._external_access import ExternalAccessEntry, ExternalTokens
from backstage_backend_defaults.auth._plugin_tokens import PluginTokenHandler

__all__ = ["USER_TOKENS_UNSUPPORTED", "DefaultAuthService", "check_principal_allowed"]

USER_TOKENS_UNSUPPORTED = (
    "User tokens are not supported: this backend has no auth backend to issue or verify them"
)
_USER_TOKEN_TYPES = ("vnd.backstage.user", "vnd.backstage.limited-user")


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


def _looks_like_user_token(token: str) -> bool:
    try:
        header = jwt.get_unverified_header(token)
        if header.get("typ") in _USER_TOKEN_TYPES:
            return True
        return jwt.decode(token, options={"verify_signature": False}).get("aud") == "backstage"
    except jwt.PyJWTError:
        return False


class DefaultAuthService:
    """`core.auth` of one plugin."""

    def __init__(
        self,
        plugin_id: str,
        plugin_tokens: PluginTokenHandler,
        external: ExternalTokens,
        *,
        policy_disabled: bool,
    ) -> None:
        self._plugin_id = plugin_id
        self.plugin_tokens = plugin_tokens
        self._external = external
        self._policy_disabled = policy_disabled

    async def authenticate(
        self, token: str, *, allow_limited_access: bool = False
    ) -> BackstageCredentials[BackstagePrincipal]:
        plugin = await self.plugin_tokens.verify_token(token)
        if plugin is not None:
            if plugin.on_behalf_of is not None:
                raise AuthenticationError(
                    f"Invalid user token in plugin token obo claim; {USER_TOKENS_UNSUPPORTED}"
                )
            return BackstageCredentials(BackstageServicePrincipal(plugin.subject), token=token)
        entry = self._external.verify(token)
        if entry is not None:
            return self._external_credentials(entry, token)
        if _looks_like_user_token(token):
            raise AuthenticationError(USER_TOKENS_UNSUPPORTED)
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
            raise NotImplementedError(
                f"Refused to issue a token on behalf of a user; {USER_TOKENS_UNSUPPORTED}"
            )
        if isinstance(principal, BackstageNonePrincipal) and self._policy_disabled:
            return PluginRequestToken("")  # unauthenticated calls stay unauthenticated
        kind = getattr(principal, "type", type(principal).__name__)
        raise AuthenticationError(f"Refused to issue service token for credential type '{kind}'")

    async def get_limited_user_token(
        self, credentials: BackstageCredentials[BackstageUserPrincipal]
    ) -> LimitedUserToken:
        raise NotImplementedError(USER_TOKENS_UNSUPPORTED)

    async def list_public_service_keys(self) -> dict[str, Any]:
        return {"keys": await self.plugin_tokens.list_public_keys()}
