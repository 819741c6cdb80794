"""The catalog and the auth plugin in two units: sign-in looks people up in the other
unit's catalog, and the tokens issued read it with the default auth policy on."""

from __future__ import annotations

import pytest

from ._units import free_port, unit, wait_for_people

JANE_REFS = ["user:default/jane.doe", "group:default/team-a", "group:default/team-b"]


@pytest.fixture(autouse=True)
def _no_backstage_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BACKSTAGE_ENV", raising=False)


async def test_tokens_from_the_auth_unit_read_the_catalog_unit() -> None:
    catalog_port, auth_port = free_port(), free_port()
    resolvers = {"resolvers": [{"resolver": "emailMatchingUserEntityProfileEmail"}]}
    async with (
        unit(auth=False, port=catalog_port, endpoints=[(auth_port, "auth")]) as catalog,
        unit(
            catalog=False,
            port=auth_port,
            endpoints=[(catalog_port, "catalog")],
            config={"auth": {"providers": {"header": {"signIn": resolvers}}}},
        ) as auth,
    ):
        guest = (await auth.client.get("/api/auth/guest/refresh")).json()["backstageIdentity"]
        await wait_for_people(catalog, guest["token"])
        response = await auth.client.get(
            "/api/auth/header/refresh", headers={"X-Test-Email": "jane.doe@example.com"}
        )
        assert response.status_code == 200, response.text
        identity = response.json()["backstageIdentity"]
        assert identity["identity"]["ownershipEntityRefs"] == JANE_REFS
        headers = {"Authorization": f"Bearer {identity['token']}"}
        groups = await catalog.client.get(
            "/api/catalog/entities", params={"filter": "kind=group"}, headers=headers
        )
        assert groups.status_code == 200
        assert len(groups.json()) == 2
        # the catalog unit verifies it as that user: it sets the user cookie for it
        cookie = await catalog.client.get("/api/catalog/.backstage/auth/v1/cookie", headers=headers)
        assert cookie.status_code == 200, cookie.text
        head, payload, signature = identity["token"].split(".")
        forged = await catalog.client.get(
            "/api/catalog/entities",
            headers={"Authorization": f"Bearer {head}.{payload}.{signature[::-1]}"},
        )
        assert forged.status_code == 401
