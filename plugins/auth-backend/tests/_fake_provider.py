"""A fake OAuth identity provider behind the real flow: it hands out codes and tokens it
remembers, so tests see what the flow passed it and can drive every path of the routes."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from backstage_backend_plugin_api import (
    BackendModule,
    ModuleRegistrationPoints,
    create_backend_module,
)
from backstage_common.config import Config
from backstage_common.errors import AuthenticationError
from backstage_plugin_auth_node import (
    AuthProviders,
    OAuthAuthenticateInput,
    OAuthAuthenticatorResult,
    OAuthLogoutInput,
    OAuthRefreshInput,
    OAuthSession,
    OAuthStartInput,
    OAuthStartResponse,
    ProfileInfo,
    common_sign_in_resolvers,
    create_oauth_provider_factory,
)

__all__ = ["FakeIdp", "fake_provider_module"]


@dataclass
class FakeIdp:
    """The provider's side: issued codes, refresh tokens, and what the flow sent."""

    email: str = "jane.doe@example.com"
    codes: dict[str, str] = field(default_factory=dict)  # code -> PKCE verifier
    refresh_tokens: set[str] = field(default_factory=set)
    authenticated: int = 0
    refreshed_with: list[str] = field(default_factory=list)
    logged_out_with: list[str | None] = field(default_factory=list)
    verifiers: list[str] = field(default_factory=list)
    rotate_refresh_tokens: bool = True
    secrets_seen: list[str] = field(default_factory=list)

    def issue_code(self, verifier: str) -> str:
        code = "code-" + secrets.token_urlsafe(8)
        self.codes[code] = verifier
        self.secrets_seen.append(code)
        return code

    def session(self, scope: str) -> OAuthSession:
        access = "access-" + secrets.token_urlsafe(12)
        refresh = "refresh-" + secrets.token_urlsafe(12)
        self.refresh_tokens.add(refresh)
        self.secrets_seen += [access, refresh]
        return OAuthSession(
            access_token=access,
            token_type="bearer",
            scope=scope,
            expires_in_seconds=3600,
            refresh_token=refresh,
        )


class FakeAuthenticator:
    should_persist_scopes = True
    always_scopes: Sequence[str] = ("openid",)

    def __init__(self, idp: FakeIdp) -> None:
        self.idp = idp

    async def initialize(self, *, callback_url: str, config: Config) -> dict[str, str]:
        return {"client_id": config.get_string("clientId"), "callback_url": callback_url}

    async def start(self, input: OAuthStartInput, ctx: dict[str, str]) -> OAuthStartResponse:
        verifier = secrets.token_urlsafe(16)
        self.idp.verifiers.append(verifier)
        self.idp.secrets_seen.append(verifier)
        query = urlencode(
            {"client_id": ctx["client_id"], "state": input.state, "scope": input.scope}
        )
        return OAuthStartResponse(
            url=f"https://idp.example/authorize?{query}", transient={"code_verifier": verifier}
        )

    async def authenticate(
        self, input: OAuthAuthenticateInput, ctx: dict[str, str]
    ) -> OAuthAuthenticatorResult[dict[str, Any]]:
        self.idp.authenticated += 1
        code = input.query.get("code", "")
        verifier = self.idp.codes.pop(code, None)
        if verifier is None or verifier != input.transient.get("code_verifier"):
            raise AuthenticationError("The identity provider refused the code")
        return OAuthAuthenticatorResult(
            full_profile={"email": self.idp.email, "name": "Jane Doe"},
            session=self.idp.session("openid read"),
        )

    async def refresh(
        self, input: OAuthRefreshInput, ctx: dict[str, str]
    ) -> OAuthAuthenticatorResult[dict[str, Any]]:
        self.idp.refreshed_with.append(input.refresh_token)
        if input.refresh_token not in self.idp.refresh_tokens:
            raise AuthenticationError("Unknown refresh token")
        session = self.idp.session(input.scope)
        if not self.idp.rotate_refresh_tokens:
            session = OAuthSession(
                access_token=session.access_token,
                token_type="bearer",
                scope=input.scope,
                refresh_token=input.refresh_token,
            )
        return OAuthAuthenticatorResult(
            full_profile={"email": self.idp.email, "name": "Jane Doe"}, session=session
        )

    async def logout(self, input: OAuthLogoutInput, ctx: dict[str, str]) -> str | None:
        self.idp.logged_out_with.append(input.refresh_token)
        return "https://idp.example/logout"

    async def default_profile_transform(
        self, result: OAuthAuthenticatorResult[dict[str, Any]], ctx: dict[str, str]
    ) -> ProfileInfo:
        return ProfileInfo(
            email=result.full_profile["email"], display_name=result.full_profile["name"]
        )


def fake_provider_module(idp: FakeIdp) -> BackendModule:
    """Provider `fake` on the auth plugin, with the common resolvers."""

    def register(env: ModuleRegistrationPoints) -> None:
        async def init(providers: AuthProviders) -> None:
            providers.register_provider(
                "fake",
                create_oauth_provider_factory(
                    FakeAuthenticator(idp), sign_in_resolver_factories=common_sign_in_resolvers
                ),
            )

        env.register_init(init)

    return create_backend_module(plugin_id="auth", module_id="fake-provider", register=register)
