"""GitHub's own sign-in resolvers, as Backstage's GitHub module names them.

- `usernameMatchingUserEntityName`: the user entity named like the GitHub login.
- `userIdMatchingUserEntityAnnotation`: the user entity whose `github.com/user-id`
  annotation holds the profile's node id. The catalog compares annotation values without
  regard to case, so its answer is filtered to exact matches: two exact matches are a
  `ConflictError`, matches that differ only in case are refused.

Both take `dangerouslyAllowSignInWithoutUserInCatalog`: with no matching user, sign in as
`user:default/<login or node id>` owning only itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from backstage_common.catalog_model import stringify_entity_ref
from backstage_common.config import Config
from backstage_common.errors import AuthenticationError, ConflictError, NotFoundError
from backstage_plugin_auth_node import (
    AuthResolverCatalogUserQuery,
    AuthResolverContext,
    BackstageSignInResult,
    OAuthAuthenticatorResult,
    SignInInfo,
    SignInResolver,
    SignInResolverFactory,
)
from backstage_plugin_catalog_node import CatalogClient

from backstage_plugin_auth_backend_module_github_provider._profile import GithubProfile

__all__ = ["GITHUB_USER_ID_ANNOTATION", "create_github_sign_in_resolvers"]

GITHUB_USER_ID_ANNOTATION: Final = "github.com/user-id"
_ANNOTATION_FILTER_KEY: Final = f"metadata.annotations.{GITHUB_USER_ID_ANNOTATION}"
_FALLBACK_OPTION: Final = "dangerouslyAllowSignInWithoutUserInCatalog"
_OPTIONS: Final = frozenset({_FALLBACK_OPTION})

GithubSignInInfo = SignInInfo[OAuthAuthenticatorResult[GithubProfile]]


def _user_id_annotation(entity: Mapping[str, Any]) -> object:
    metadata = entity.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, Mapping) else None
    return annotations.get(GITHUB_USER_ID_ANNOTATION) if isinstance(annotations, Mapping) else None


def _allows_fallback(options: Config) -> bool:
    return options.get_optional_boolean(_FALLBACK_OPTION) is True


async def _sign_in_as_entity(
    entity: Mapping[str, Any], ctx: AuthResolverContext
) -> BackstageSignInResult:
    ownership = await ctx.resolve_ownership_entity_refs(entity)
    return await ctx.issue_token({"sub": stringify_entity_ref(entity), "ent": ownership})


async def _sign_in_without_catalog_user(
    name: str, ctx: AuthResolverContext
) -> BackstageSignInResult:
    ref = stringify_entity_ref({"kind": "User", "namespace": "default", "name": name})
    return await ctx.issue_token({"sub": ref, "ent": [ref]})


def _username_matching_user_entity_name(
    options: Config,
) -> SignInResolver[OAuthAuthenticatorResult[GithubProfile]]:
    fallback = _allows_fallback(options)

    async def resolve(info: GithubSignInInfo, ctx: AuthResolverContext) -> BackstageSignInResult:
        username = info.result.full_profile.username
        if not username:
            raise AuthenticationError("GitHub user profile does not contain a username")
        return await ctx.sign_in_with_catalog_user(
            AuthResolverCatalogUserQuery(entity_ref={"name": username}),
            dangerous_entity_ref_fallback={"name": username} if fallback else None,
        )

    return resolve


def _user_id_matching_user_entity_annotation(
    catalog: CatalogClient,
) -> SignInResolverFactory[OAuthAuthenticatorResult[GithubProfile]]:
    def create(options: Config) -> SignInResolver[OAuthAuthenticatorResult[GithubProfile]]:
        fallback = _allows_fallback(options)

        async def resolve(
            info: GithubSignInInfo, ctx: AuthResolverContext
        ) -> BackstageSignInResult:
            node_id = info.result.full_profile.node_id
            if not node_id:
                raise AuthenticationError("GitHub user profile does not contain a user ID")
            # The auth plugin's own credentials (the client's default), as Backstage does.
            items = await catalog.get_entities(
                filter={
                    "kind": "user",
                    f"metadata.annotations.{GITHUB_USER_ID_ANNOTATION}": node_id,
                }
            )
            exact = [
                item
                for item in items
                if (item.get("metadata", {}).get("annotations") or {}).get(
                    GITHUB_USER_ID_ANNOTATION
                )
                == node_id
            ]
            if len(exact) > 1:
                raise ConflictError("User lookup resulted in multiple exact matches")
            if exact:
                return await _sign_in_as_entity(exact[0], ctx)
            if items:
                raise AuthenticationError("GitHub user ID does not match the catalog user")
            if fallback:
                return await _sign_in_without_catalog_user(node_id, ctx)
            raise NotFoundError("User not found")

        return resolve

    return SignInResolverFactory(create=create, option_keys=_OPTIONS)


def create_github_sign_in_resolvers(
    catalog: CatalogClient,
) -> dict[str, SignInResolverFactory[OAuthAuthenticatorResult[GithubProfile]]]:
    """GitHub's resolvers by name, for `signIn.resolvers`.

    Args:
        catalog: the catalog client the user-id resolver lists users with.
    """
    return {
        "usernameMatchingUserEntityName": SignInResolverFactory(
            create=_username_matching_user_entity_name, option_keys=_OPTIONS
        ),
        "userIdMatchingUserEntityAnnotation": _user_id_matching_user_entity_annotation(catalog),
    }
