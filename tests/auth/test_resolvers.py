"""Sign-in resolvers against a real catalog: who signs in as whom, with which ownership,
and who is refused (nothing issued)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest
from backstage_backend_plugin_api import (
    BackendModule,
    ModuleRegistrationPoints,
    create_backend_module,
)
from backstage_backend_test_utils import TestBackend
from backstage_common.catalog_model import RELATION_MEMBER_OF, stringify_entity_ref
from backstage_plugin_auth_node import AuthOwnershipResolution

from ._units import unit, wait_for_people

JANE = "user:default/jane.doe"
JANE_REFS = [JANE, "group:default/team-a", "group:default/team-b"]
NOT_FOUND = (
    "Failed to sign-in, unable to resolve user identity. Please verify that your catalog "
    "contains the expected User entities that would match your configured sign-in resolver."
)


def default_refs(entity: Mapping[str, Any]) -> list[str]:
    groups = [
        relation["targetRef"]
        for relation in entity.get("relations", [])
        if relation["type"] == RELATION_MEMBER_OF
    ]
    return [stringify_entity_ref(entity), *groups]


def _resolvers(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"auth": {"providers": {"header": {"signIn": {"resolvers": list(entries)}}}}}


@pytest.fixture(autouse=True)
def _no_backstage_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BACKSTAGE_ENV", raising=False)


async def _backend(config: dict[str, Any]) -> AsyncIterator[TestBackend]:
    async with unit(config=config) as test:
        guest = (await test.client.get("/api/auth/guest/refresh")).json()
        await wait_for_people(test, guest["backstageIdentity"]["token"])
        yield test


async def _sign_in(test: TestBackend, email: str | None) -> Any:
    headers = {"X-Test-Email": email} if email else {}
    return await test.client.get("/api/auth/header/refresh", headers=headers)


@pytest.fixture
async def profile_email() -> AsyncIterator[TestBackend]:
    async for test in _backend(_resolvers({"resolver": "emailMatchingUserEntityProfileEmail"})):
        yield test


async def test_profile_email_signs_in_with_ownership_and_reads_the_catalog(
    profile_email: TestBackend,
) -> None:
    response = await _sign_in(profile_email, "jane.doe@example.com")
    assert response.status_code == 200, response.text
    identity = response.json()["backstageIdentity"]
    assert identity["identity"] == {
        "type": "user",
        "userEntityRef": JANE,
        "ownershipEntityRefs": JANE_REFS,
    }
    # the token reads the catalog with the default auth policy on
    entities = await profile_email.client.get(
        "/api/catalog/entities",
        params={"filter": "kind=group"},
        headers={"Authorization": f"Bearer {identity['token']}"},
    )
    assert entities.status_code == 200
    assert sorted(e["metadata"]["name"] for e in entities.json()) == ["team-a", "team-b"]
    refused = await profile_email.client.get("/api/catalog/entities")
    assert refused.status_code == 401
    info = await profile_email.client.get(
        "/api/auth/v1/userinfo", headers={"Authorization": f"Bearer {identity['token']}"}
    )
    assert info.json() == {"claims": {"sub": JANE, "ent": JANE_REFS}}


async def test_profile_email_drops_a_plus_tag(profile_email: TestBackend) -> None:
    response = await _sign_in(profile_email, "jane.doe+backstage@example.com")
    assert response.json()["backstageIdentity"]["identity"]["userEntityRef"] == JANE


@pytest.mark.parametrize(
    ("email", "status", "error"),
    [
        ("nobody@example.com", 403, {"name": "Error", "message": NOT_FOUND}),
        (
            None,
            403,
            {"name": "Error", "message": "Login failed, user profile does not contain an email"},
        ),
        (
            "twins@example.com",
            409,
            {"name": "ConflictError", "message": "User lookup resulted in multiple matches"},
        ),
    ],
)
async def test_profile_email_refuses(
    profile_email: TestBackend, email: str | None, status: int, error: dict[str, str]
) -> None:
    response = await _sign_in(profile_email, email)
    assert response.status_code == status
    assert response.json()["error"] == error
    assert "token" not in response.text
    jwks = (await profile_email.client.get("/api/auth/.well-known/jwks.json")).json()
    # only the guest's sign-in made the key; nothing was issued for the refused person
    info = await profile_email.client.get("/api/auth/v1/userinfo")
    assert info.status_code == 401
    assert len(jwks["keys"]) == 1


async def test_local_part_with_allowed_domains() -> None:
    config = _resolvers(
        {"resolver": "emailLocalPartMatchingUserEntityName", "allowedDomains": ["example.com"]}
    )
    async for test in _backend(config):
        ok = await _sign_in(test, "jane.doe@example.com")
        assert ok.json()["backstageIdentity"]["identity"]["ownershipEntityRefs"] == JANE_REFS
        other = await _sign_in(test, "jane.doe@evil.example")
        assert other.status_code == 403
        assert other.json()["error"] == {
            "name": "NotAllowedError",
            "message": "Sign-in user email is not from an allowed domain",
        }


async def test_email_annotation_and_the_next_resolver() -> None:
    config = _resolvers(
        {"resolver": "emailMatchingUserEntityAnnotation"},
        {"resolver": "emailMatchingUserEntityProfileEmail"},
    )
    async for test in _backend(config):
        john = await _sign_in(test, "john.smith@corp.example")
        assert john.json()["backstageIdentity"]["identity"] == {
            "type": "user",
            "userEntityRef": "user:default/john",
            "ownershipEntityRefs": ["user:default/john", "group:default/team-b"],
        }
        # no annotation matches: the next resolver finds her by profile email
        jane = await _sign_in(test, "jane.doe@example.com")
        assert jane.json()["backstageIdentity"]["identity"]["userEntityRef"] == JANE


async def test_dangerously_allow_sign_in_without_user_in_catalog() -> None:
    config = _resolvers(
        {
            "resolver": "emailLocalPartMatchingUserEntityName",
            "dangerouslyAllowSignInWithoutUserInCatalog": True,
        }
    )
    async for test in _backend(config):
        response = await _sign_in(test, "Stranger@example.com")
        assert response.json()["backstageIdentity"]["identity"] == {
            "type": "user",
            "userEntityRef": "user:default/stranger",
            "ownershipEntityRefs": ["user:default/stranger"],
        }


async def test_unknown_resolver_or_option_fails_the_provider() -> None:
    for entry in (
        {"resolver": "preferredUsernameMatchingUserEntityName"},
        {"resolver": "emailMatchingUserEntityProfileEmail", "surprise": True},
    ):
        async with unit(catalog=False, config=_resolvers(entry)) as test:
            response = await _sign_in(test, "jane.doe@example.com")
            assert response.status_code == 404
            assert "is misconfigured" in response.json()["error"]["message"]


class _EveryoneToo:
    async def resolve_ownership_entity_refs(self, entity: Mapping[str, Any]) -> list[str]:
        return [*default_refs(entity), "group:default/everyone"]


def _ownership_module() -> BackendModule:
    def register(env: ModuleRegistrationPoints) -> None:
        async def init(ownership: AuthOwnershipResolution) -> None:
            ownership.set_auth_ownership_resolver(_EveryoneToo())

        env.register_init(init)

    return create_backend_module(plugin_id="auth", module_id="everyone", register=register)


async def test_a_module_replaces_the_ownership_resolution() -> None:
    config = _resolvers({"resolver": "emailMatchingUserEntityProfileEmail"})
    async with unit(config=config, extra=[_ownership_module()]) as test:
        guest = (await test.client.get("/api/auth/guest/refresh")).json()
        await wait_for_people(test, guest["backstageIdentity"]["token"])
        response = await _sign_in(test, "jane.doe@example.com")
        refs = response.json()["backstageIdentity"]["identity"]["ownershipEntityRefs"]
        assert refs == [*JANE_REFS, "group:default/everyone"]
