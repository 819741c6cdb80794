"""Who the guest is: the catalog user `userEntityRef` when there is one, else that ref
with the configured ownership, whatever went wrong looking it up (as Backstage does)."""

from __future__ import annotations

from typing import Any

from backstage_common.catalog_model import parse_entity_ref, stringify_entity_ref
from backstage_common.config import Config
from backstage_plugin_auth_node import (
    AuthResolverCatalogUserQuery,
    AuthResolverContext,
    BackstageSignInResult,
    SignInInfo,
    SignInResolver,
)

__all__ = ["sign_in_as_guest_user"]

DEFAULT_GUEST_REF = "user:development/guest"


def sign_in_as_guest_user(config: Config) -> SignInResolver[Any]:
    """The guest's resolver, from `auth.providers.guest` (`userEntityRef`,
    `ownershipEntityRefs`); a malformed ref fails the provider's initialisation."""
    user_ref = config.get_optional_string("userEntityRef") or DEFAULT_GUEST_REF
    parse_entity_ref(user_ref, default_kind="User")
    ownership = config.get_optional_string_array("ownershipEntityRefs") or [user_ref]

    async def resolve(info: SignInInfo[Any], ctx: AuthResolverContext) -> BackstageSignInResult:
        try:
            return await ctx.sign_in_with_catalog_user(
                AuthResolverCatalogUserQuery(entity_ref=user_ref)
            )
        except Exception:  # a guest is let in whatever the catalog says
            ref = stringify_entity_ref(parse_entity_ref(user_ref, default_kind="User"))
            return await ctx.issue_token({"sub": ref, "ent": ownership})

    return resolve
