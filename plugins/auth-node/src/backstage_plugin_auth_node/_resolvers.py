"""Sign-in resolvers: who a person signing in is in the catalog.

A resolver gets the provider's result and profile, looks the person up through the
`AuthResolverContext` (the catalog over HTTP, with the auth plugin's own credentials) and
returns a Backstage token, or raises `NotFoundError` to let the next configured resolver
try. Providers configure them as Backstage does:
`auth.providers.<id>.<env>.signIn.resolvers: [{resolver: <name>, ...options}]`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from backstage_common.config import Config
from backstage_plugin_catalog_common import EntityFilterQuery

from backstage_plugin_auth_node._types import BackstageSignInResult, ProfileInfo

__all__ = [
    "AuthResolverCatalogUserQuery",
    "AuthResolverContext",
    "SignInInfo",
    "SignInResolver",
    "SignInResolverFactory",
]

TResult = TypeVar("TResult")

Entity = dict[str, Any]


@dataclass(frozen=True)
class SignInInfo(Generic[TResult]):
    """What a resolver decides from.

    Args:
        profile: the transformed profile (email, picture, display name).
        result: the authenticator's result (`OAuthAuthenticatorResult` for OAuth providers,
            the proxy authenticator's result for proxy providers).
    """

    profile: ProfileInfo
    result: TResult


@dataclass(frozen=True)
class AuthResolverCatalogUserQuery:
    """How to find a user entity; set exactly one field.

    Args:
        entity_ref: a ref string (kind defaults to `User`, namespace to `default`) or a
            `{kind?, namespace?, name}` mapping.
        annotations: annotation values the user must carry (`kind=user` is added).
        filter: a catalog entity filter (`kind=user` is added when it names no kind).
    """

    entity_ref: str | Mapping[str, str] | None = None
    annotations: Mapping[str, str] | None = None
    filter: EntityFilterQuery | None = None


class AuthResolverContext(Protocol):
    """What resolvers may do: look users up in the catalog and issue tokens."""

    async def find_catalog_user(self, query: AuthResolverCatalogUserQuery) -> Entity:
        """The one user entity matching `query`.

        Raises `NotFoundError` (`User not found`) when none does and `ConflictError`
        (`User lookup resulted in multiple matches`) when several do.

        Args:
            query: by ref, by annotations or by filter.
        """
        ...

    async def sign_in_with_catalog_user(
        self,
        query: AuthResolverCatalogUserQuery,
        *,
        dangerous_entity_ref_fallback: str | Mapping[str, str] | None = None,
    ) -> BackstageSignInResult:
        """Find the user, compute its ownership refs and issue a token for it.

        Args:
            query: how to find the user.
            dangerous_entity_ref_fallback: when no user matches, sign in as this ref
                (ownership: the ref alone) instead of raising `NotFoundError`.
        """
        ...

    async def resolve_ownership_entity_refs(self, entity: Mapping[str, Any]) -> list[str]:
        """The refs a user owns through: its own ref and its direct `memberOf` groups.

        Args:
            entity: a user entity as the catalog returns it (with relations).
        """
        ...

    async def issue_token(self, claims: Mapping[str, Any]) -> BackstageSignInResult:
        """Sign a user token with these claims.

        Args:
            claims: `sub` (an entity ref, required), `ent` (ownership refs, default
                `[sub]`), and any extra claims; refs are canonicalised (lower case).
        """
        ...


SignInResolver = Callable[
    [SignInInfo[TResult], AuthResolverContext], Awaitable[BackstageSignInResult]
]
"""`(info, context) -> BackstageSignInResult`; raise `NotFoundError` to pass to the next."""


@dataclass(frozen=True)
class SignInResolverFactory(Generic[TResult]):
    """A named, configurable sign-in resolver.

    Args:
        create: makes the resolver from its options (the resolver's config entry without
            `resolver`); raise `InputError` or `ConfigError` for a bad option.
        option_keys: the options the resolver accepts; any other key fails provider
            initialisation, as does any option given to a resolver that takes none.
    """

    create: Callable[[Config], SignInResolver[TResult]]
    option_keys: frozenset[str] = field(default_factory=frozenset)
