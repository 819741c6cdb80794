"""Seeding a catalog database for the catalog benchmarks: stitched groups, users,
components and APIs with owner and membership relations."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec
import sqlalchemy as sa
from backstage_plugin_catalog_backend._tables import (
    refresh_state,
    refresh_state_references,
    relations,
)
from backstage_plugin_catalog_backend.stitching import stitch_entities
from sqlalchemy.ext.asyncio import AsyncConnection

TYPES = ["service", "website", "library", "documentation", "tool", "other"]
LIFECYCLES = ["production", "experimental", "deprecated"]
TAGS = ["java", "python", "go", "react", "kafka", "postgres", "grpc", "internal"]


def _entities(
    count: int, rng: random.Random
) -> list[tuple[dict[str, Any], list[tuple[str, str, str]]]]:
    groups = max(10, count // 100)
    result = []
    for index in range(count):
        if index < groups:
            kind, name = "Group", f"team-{index}"
            spec: dict[str, Any] = {"type": "team", "children": []}
            rels: list[tuple[str, str, str]] = []
        elif index < groups * 3:
            kind, name = "User", f"user-{index}"
            team = f"group:default/team-{rng.randrange(groups)}"
            spec = {"memberOf": [team], "profile": {"displayName": f"User {index}"}}
            rels = [("memberOf", team, "self"), ("hasMember", "self", team)]
        else:
            kind = "API" if index % 5 == 0 else "Component"
            name = f"{kind.lower()}-{index}"
            team = f"group:default/team-{rng.randrange(groups)}"
            spec = {"type": rng.choice(TYPES), "lifecycle": rng.choice(LIFECYCLES), "owner": team}
            rels = [("ownedBy", team, "self"), ("ownerOf", "self", team)]
        entity = {
            "apiVersion": "backstage.io/v1alpha1",
            "kind": kind,
            "metadata": {
                "name": name,
                "namespace": "default",
                "uid": str(uuid.uuid4()),
                "title": f"{name.replace('-', ' ').title()}",
                "tags": rng.sample(TAGS, rng.randrange(0, 3)),
                "annotations": {"backstage.io/managed-by-location": "url:https://example.com/x"},
            },
            "spec": spec,
        }
        result.append((entity, rels))
    return result


async def seed(connection: AsyncConnection, count: int) -> list[str]:
    rng = random.Random(7)
    now = datetime.now(UTC)
    refs: list[str] = []
    state_rows, reference_rows, relation_rows = [], [], []
    for entity, rels in _entities(count, rng):
        ref = f"{entity['kind']}:default/{entity['metadata']['name']}".lower()
        text = msgspec.json.encode(entity).decode()
        uid = entity["metadata"]["uid"]
        state_rows.append(
            {
                "entity_id": uid,
                "entity_ref": ref,
                "unprocessed_entity": text,
                "processed_entity": text,
                "errors": "",
                "next_update_at": now,
                "last_discovery_at": now,
            }
        )
        reference_rows.append({"source_key": "bench", "target_entity_ref": ref})
        for kind, source, target in rels:
            relation_rows.append(
                {
                    "originating_entity_id": uid,
                    "source_entity_ref": ref if source == "self" else source,
                    "type": kind,
                    "target_entity_ref": ref if target == "self" else target,
                }
            )
        refs.append(ref)
    for table, rows in (
        (refresh_state, state_rows),
        (refresh_state_references, reference_rows),
        (relations, relation_rows),
    ):
        for start in range(0, len(rows), 5000):
            await connection.execute(sa.insert(table), rows[start : start + 5000])
    await stitch_entities(connection, refs)
    return refs
