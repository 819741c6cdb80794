"""`GET /query` leaves out what the reader may not see: a denied type is not searched, a
conditional one is filtered result by result (decided in batches), pages stay full and
their cursors walk every visible result once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from backstage_backend_plugin_api import (
    AuthorizePermissionRequest,
    BackstageCredentials,
    BackstageServicePrincipal,
    QueryPermissionRequest,
    ServiceFactory,
    create_service_factory,
)
from backstage_backend_plugin_api import core_services as core
from backstage_backend_test_utils import mock_credentials
from backstage_plugin_permission_common import (
    AuthorizeResult,
    ConditionalPolicyDecision,
    DefinitivePolicyDecision,
    Permission,
    PermissionCondition,
    PolicyDecision,
    create_permission,
)

from .list_collator import ListCollator, doc, started_search

READ = create_permission("catalog.entity.read", action="read", resource_type="catalog-entity")
ALLOW = DefinitivePolicyDecision(AuthorizeResult.ALLOW)
DENY = DefinitivePolicyDecision(AuthorizeResult.DENY)
CONDITIONAL = ConditionalPolicyDecision(
    "catalog", "catalog-entity", PermissionCondition("IS_ENTITY_OWNER", "catalog-entity", {})
)


@dataclass
class VisibleCollator(ListCollator):
    visibility_permission: Permission | None = None


@dataclass
class RefPermissions:
    """Decides `catalog.entity.read` as `decision`; with a resource, ALLOW for `visible`."""

    decision: PolicyDecision
    visible: set[str]
    batches: list[int] = field(default_factory=list)

    async def authorize(
        self,
        requests: Sequence[AuthorizePermissionRequest],
        *,
        credentials: BackstageCredentials[Any],
    ) -> list[DefinitivePolicyDecision]:
        self.batches.append(len(requests))
        return [ALLOW if request.resource_ref in self.visible else DENY for request in requests]

    async def authorize_conditional(
        self,
        requests: Sequence[QueryPermissionRequest],
        *,
        credentials: BackstageCredentials[Any],
    ) -> list[PolicyDecision]:
        if isinstance(credentials.principal, BackstageServicePrincipal):
            return [ALLOW for _ in requests]
        return [self.decision for _ in requests]


def factory(permissions: RefPermissions) -> ServiceFactory[Any]:
    return create_service_factory(service=core.permissions, factory=lambda: permissions)


def entity_docs(count: int) -> list[dict[str, Any]]:
    return [
        doc(
            f"pet-{n:02}", "a pet service", authorization={"resourceRef": f"component:default/c{n}"}
        )
        for n in range(count)
    ]


def catalog_collator(count: int) -> VisibleCollator:
    return VisibleCollator("software-catalog", entity_docs(count), visibility_permission=READ)


TECHDOCS = ListCollator("techdocs", [doc("pet-guide", "How to feed a pet")])


async def walk(search: Any, query: str) -> tuple[list[list[str]], list[dict[str, Any]]]:
    pages: list[list[str]] = []
    bodies: list[dict[str, Any]] = []
    cursor = ""
    while True:
        response = await search.test.client.get(
            f"/api/search/query?{query}{cursor}", headers=mock_credentials.user_header()
        )
        assert response.status_code == 200, response.text
        body = response.json()
        bodies.append(body)
        pages.append([result["document"]["title"] for result in body["results"]])
        if "nextPageCursor" not in body:
            return pages, bodies
        cursor = f"&pageCursor={body['nextPageCursor']}"


async def test_conditional_results_are_filtered_in_full_pages() -> None:
    visible = {f"component:default/c{n}" for n in range(0, 150, 3)}
    permissions = RefPermissions(CONDITIONAL, visible)
    async with started_search(catalog_collator(150), features=[factory(permissions)]) as search:
        await search.reindex("software-catalog")
        pages, bodies = await walk(search, "term=pet&types=software-catalog&pageLimit=15")
    titles = [title for page in pages for title in page]
    assert sorted(titles) == sorted(f"pet-{n:02}" for n in range(0, 150, 3))
    assert len(titles) == len(set(titles)) == 50
    assert [len(page) for page in pages] == [15, 15, 15, 5]
    ranks = [result["rank"] for body in bodies for result in body["results"]]
    assert ranks == list(range(1, 51))
    assert all("numberOfResults" not in body for body in bodies)
    assert "previousPageCursor" not in bodies[0]
    assert all("previousPageCursor" in body for body in bodies[1:])
    # each engine page's refs were decided in one batch
    assert max(permissions.batches) == 100


async def test_denied_and_allowed_types() -> None:
    denied = RefPermissions(DENY, set())
    collators = (catalog_collator(5), TECHDOCS)
    async with started_search(*collators, features=[factory(denied)]) as search:
        await search.reindex("software-catalog")
        await search.reindex("techdocs")
        # the catalog's documents are left out; the other type is searched as it is
        pages, bodies = await walk(search, "term=pet")
        assert pages == [["pet-guide"]]
        assert bodies[0]["numberOfResults"] == 1
        pages, _ = await walk(search, "term=pet&types=software-catalog")
        assert pages == [[]]
        assert denied.batches == []

        # a service reads everything, unfiltered
        response = await search.test.client.get(
            "/api/search/query?term=pet&types=software-catalog",
            headers=mock_credentials.service_header(),
        )
        assert response.json()["numberOfResults"] == 5


async def test_a_bad_page_cursor_is_a_400_when_filtering() -> None:
    permissions = RefPermissions(CONDITIONAL, set())
    async with started_search(catalog_collator(3), features=[factory(permissions)]) as search:
        await search.reindex("software-catalog")
        response = await search.test.client.get(
            "/api/search/query?term=pet&pageCursor=bm9wZQ==",
            headers=mock_credentials.user_header(),
        )
        assert response.status_code == 400
        assert response.json()["error"]["name"] == "InputError"
        empty, _ = await walk(search, "term=pet")
        assert empty == [[]]
