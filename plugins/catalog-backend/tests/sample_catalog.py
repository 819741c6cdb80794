"""A small realistic catalog (groups, users, systems, components, APIs, a location) with
relations in both directions as the processing loop emits them, and a started backend
serving it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from backstage_backend_plugin_api import BackendFeature
from backstage_backend_plugin_api import core_services as core
from backstage_backend_test_utils import TestBackend, start_test_backend
from backstage_plugin_catalog_backend import catalog_plugin
from backstage_plugin_catalog_backend._tables import final_entities
from sqlalchemy.ext.asyncio import AsyncEngine

from .conftest import entity_ref_of, seed_processed

LOCATION_REF = "location:default/generated-0123456789abcdef"
LOCATION_ANNOTATIONS = {
    "backstage.io/managed-by-location": "url:https://example.com/catalog-info.yaml",
    "backstage.io/managed-by-origin-location": "url:https://example.com/catalog-info.yaml",
}

# (spec field, default kind, forward relation, reverse relation)
_RELATION_FIELDS = (
    ("owner", "group", "ownedBy", "ownerOf"),
    ("system", "system", "partOf", "hasPart"),
    ("providesApis", "api", "providesApi", "apiProvidedBy"),
    ("consumesApis", "api", "consumesApi", "apiConsumedBy"),
    ("memberOf", "group", "memberOf", "hasMember"),
    ("parent", "group", "childOf", "parentOf"),
)


def _ref(value: str, default_kind: str, namespace: str) -> str:
    kind, colon, rest = value.partition(":")
    if not colon:
        kind, rest = default_kind, value
    if "/" not in rest:
        rest = f"{namespace}/{rest}"
    return f"{kind}:{rest}".lower()


def _with_relations(entity: dict[str, Any]) -> dict[str, Any]:
    self_ref = entity_ref_of(entity)
    namespace = entity["metadata"].get("namespace", "default")
    relations: list[dict[str, str]] = []
    for field, kind, forward, reverse in _RELATION_FIELDS:
        value = entity.get("spec", {}).get(field)
        for target in [value] if isinstance(value, str) else value or []:
            target_ref = _ref(target, kind, namespace)
            relations.append({"type": forward, "targetRef": target_ref})
            relations.append({"type": reverse, "targetRef": self_ref, "sourceRef": target_ref})
    return {**entity, "relations": relations}


def _entity(kind: str, name: str, spec: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    annotations = {**LOCATION_ANNOTATIONS, **metadata.pop("annotations", {})}
    return _with_relations(
        {
            "apiVersion": "backstage.io/v1alpha1",
            "kind": kind,
            "metadata": {"name": name, **metadata, "annotations": annotations},
            "spec": spec,
        }
    )


def sample_entities() -> list[dict[str, Any]]:
    return [
        _entity("Group", "org", {"type": "organization", "children": ["team-a", "team-b"]}),
        _entity(
            "Group", "team-a", {"type": "team", "children": [], "parent": "org"}, title="Team A"
        ),
        _entity(
            "Group", "team-b", {"type": "team", "children": [], "parent": "org"}, title="Team B"
        ),
        _entity(
            "User",
            "alice",
            {"memberOf": ["team-a"], "profile": {"displayName": "Alice Adams"}},
        ),
        _entity("User", "bob", {"memberOf": ["team-b"], "profile": {"displayName": "Bob Brown"}}),
        _entity("System", "pets", {"owner": "team-a"}, description="Everything about pets"),
        _entity(
            "Component",
            "petstore",
            {
                "type": "service",
                "lifecycle": "production",
                "owner": "team-a",
                "system": "pets",
                "providesApis": ["petstore-api"],
            },
            tags=["java", "Web"],
            title="Pet Store",
            annotations={"backstage.io/view-url": "https://example.com/petstore"},
        ),
        _entity(
            "Component",
            "website",
            {
                "type": "website",
                "lifecycle": "experimental",
                "owner": "team-b",
                "consumesApis": ["petstore-api", "search-api"],
            },
            tags=["react"],
            title="Web Site",
        ),
        _entity(
            "Component",
            "worker",
            {"type": "service", "lifecycle": "production", "owner": "team-b"},
            tags=["java"],
        ),
        _entity(
            "Component",
            "monitor",
            {"type": "service", "lifecycle": "production", "owner": "group:default/team-a"},
            namespace="ops",
        ),
        _entity(
            "API",
            "petstore-api",
            {"type": "openapi", "lifecycle": "production", "owner": "team-a", "system": "pets"},
        ),
        _entity(
            "API",
            "search-api",
            {"type": "grpc", "lifecycle": "experimental", "owner": "team-b"},
            title="Search",
        ),
        {
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "Location",
            "metadata": {"name": LOCATION_REF.split("/")[1], "annotations": LOCATION_ANNOTATIONS},
            "spec": {"type": "url", "target": "https://example.com/catalog-info.yaml"},
        },
    ]


# petstore and website were read from the location; the location from the provider.
SAMPLE_PARENTS = {
    "component:default/petstore": LOCATION_REF,
    "component:default/website": LOCATION_REF,
}


@dataclass(frozen=True)
class Catalog:
    test: TestBackend
    engine: AsyncEngine

    async def get(self, path: str, **params: Any) -> Any:
        return await self.test.client.get(f"/api/catalog{path}", params=params)

    async def post(self, path: str, body: Any, **params: Any) -> Any:
        return await self.test.client.post(f"/api/catalog{path}", json=body, params=params)

    async def stored(self) -> list[tuple[str, str, str | None]]:
        """Every final entity (ref, hash, text), to check that a request changed nothing."""
        async with self.engine.connect() as connection:
            rows = await connection.execute(
                sa.select(
                    final_entities.c.entity_ref,
                    final_entities.c.hash,
                    final_entities.c.final_entity,
                ).order_by(final_entities.c.entity_ref)
            )
            return [(ref, digest, text) for ref, digest, text in rows]


@asynccontextmanager
async def started_catalog(
    database_config: Mapping[str, Any],
    entities: list[dict[str, Any]] | None = None,
    *,
    parents: Mapping[str, str] | None = None,
    config: Mapping[str, Any] | None = None,
    features: Sequence[BackendFeature] = (),
) -> AsyncIterator[Catalog]:
    """The catalog plugin on a real backend (with `features` beside it), seeded with
    `entities` (default: the sample)."""
    extra = dict(config or {})
    backend = {"database": dict(database_config), **extra.pop("backend", {})}
    full_config = {"backend": backend, **extra}
    plugins = [catalog_plugin(), *features]
    async with start_test_backend(features=plugins, config=full_config) as test:
        database = await test.backend.get_service(core.database, "catalog")
        engine = await database.get_engine()
        chosen = sample_entities() if entities is None else entities
        await seed_processed(engine, chosen, parents=SAMPLE_PARENTS if parents is None else parents)
        yield Catalog(test, engine)
