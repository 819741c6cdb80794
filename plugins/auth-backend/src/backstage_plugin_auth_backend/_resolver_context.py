"""The context sign-in resolvers run in: the catalog over HTTP (the `catalog-node`
client, the auth plugin's own service credentials, discovery), so auth and the catalog
may run in different units; and token issuing, which records the claims in `user_info`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from backstage_backend_plugin_api import AuthService, LoggerService
from backstage_common.catalog_model import (
    DEFAULT_NAMESPACE,
    RELATION_MEMBER_OF,
    parse_entity_ref,
    stringify_entity_ref,
)
from backstage_common.errors import ConflictError, InputError, NotFoundError
from backstage_plugin_auth_node import (
    AuthOwnershipResolver,
    AuthResolverCatalogUserQuery,
    BackstageSignInResult,
    BackstageUserIdentity,
)
from backstage_plugin_catalog_node import CatalogClient

from backstage_plugin_auth_backend._issuer import TokenIssuer
from backstage_plugin_auth_backend._stores import UserInfoStore

__all__ = ["CatalogAuthResolverContext", "default_ownership_entity_refs"]

Entity = dict[str, Any]


def _canonical(ref: str) -> str:
    try:
        return stringify_entity_ref(parse_entity_ref(ref))
    except InputError:
        return ref


def default_ownership_entity_refs(entity: Mapping[str, Any]) -> list[str]:
    """The user's own ref and the groups it is a direct member of."""
    relations = entity.get("relations") or []
    groups = [
        relation["targetRef"]
        for relation in relations
        if isinstance(relation, Mapping)
        and relation.get("type") == RELATION_MEMBER_OF
        and isinstance(relation.get("targetRef"), str)
        and relation["targetRef"].startswith("group:")
    ]
    return list(dict.fromkeys([stringify_entity_ref(entity), *groups]))


def _user_ref(ref: str | Mapping[str, str]) -> str:
    parsed = parse_entity_ref(ref, default_kind="User", default_namespace=DEFAULT_NAMESPACE)
    return stringify_entity_ref(parsed)


def _with_user_kind(filter: Mapping[str, Any]) -> dict[str, Any]:
    if any(key.lower() == "kind" for key in filter):
        return dict(filter)
    return {**filter, "kind": "user"}


class CatalogAuthResolverContext:
    """`AuthResolverContext` over the catalog client and the token issuer."""

    def __init__(
        self,
        *,
        catalog: CatalogClient,
        auth: AuthService,
        issuer: TokenIssuer,
        user_info: UserInfoStore,
        logger: LoggerService,
        ownership: AuthOwnershipResolver | None = None,
    ) -> None:
        self._ownership = ownership
        self._catalog = catalog
        self._auth = auth
        self._issuer = issuer
        self._user_info = user_info
        self._logger = logger

    async def find_catalog_user(self, query: AuthResolverCatalogUserQuery) -> Entity:
        credentials = await self._auth.get_own_service_credentials()
        found: list[Entity]
        if query.entity_ref is not None:
            entity = await self._catalog.get_entity_by_ref(
                _user_ref(query.entity_ref), credentials=credentials
            )
            found = [entity] if entity is not None else []
        elif query.annotations is not None:
            filter = {"kind": "user"} | {
                f"metadata.annotations.{key}": value for key, value in query.annotations.items()
            }
            found = await self._catalog.get_entities(filter=filter, credentials=credentials)
        elif query.filter is not None:
            filters = [query.filter] if isinstance(query.filter, Mapping) else query.filter
            found = await self._catalog.get_entities(
                filter=[_with_user_kind(item) for item in filters], credentials=credentials
            )
        else:
            raise InputError("Invalid user lookup query")
        if len(found) > 1:
            raise ConflictError("User lookup resulted in multiple matches")
        if not found:
            raise NotFoundError("User not found")
        return found[0]

    async def sign_in_with_catalog_user(
        self,
        query: AuthResolverCatalogUserQuery,
        *,
        dangerous_entity_ref_fallback: str | Mapping[str, str] | None = None,
    ) -> BackstageSignInResult:
        try:
            entity = await self.find_catalog_user(query)
        except NotFoundError:
            if dangerous_entity_ref_fallback is None:
                raise
            ref = _user_ref(dangerous_entity_ref_fallback)
            return await self.issue_token({"sub": ref, "ent": [ref]})
        ownership = await self.resolve_ownership_entity_refs(entity)
        return await self.issue_token({"sub": stringify_entity_ref(entity), "ent": ownership})

    async def resolve_ownership_entity_refs(self, entity: Mapping[str, Any]) -> list[str]:
        if self._ownership is not None:
            return await self._ownership.resolve_ownership_entity_refs(entity)
        return default_ownership_entity_refs(entity)

    async def issue_token(self, claims: Mapping[str, Any]) -> BackstageSignInResult:
        raw_sub = claims.get("sub")
        if not isinstance(raw_sub, str):
            raise InputError('"sub" claim provided by the auth resolver must be a string')
        sub = _canonical(raw_sub)
        raw_ent = claims.get("ent")
        ent = (
            list(dict.fromkeys(_canonical(ref) for ref in raw_ent if isinstance(ref, str)))
            if isinstance(raw_ent, list | tuple)
            else [sub]
        )
        extra = {key: value for key, value in claims.items() if key not in ("sub", "ent")}
        token = await self._issuer.issue(sub, ent, extra)
        await self._user_info.add({"sub": sub, "ent": ent, **extra})
        return BackstageSignInResult(
            token=token,
            identity=BackstageUserIdentity(user_entity_ref=sub, ownership_entity_refs=ent),
        )
