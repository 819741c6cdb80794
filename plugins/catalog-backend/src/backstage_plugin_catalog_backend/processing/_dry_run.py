"""Processing a location in memory, for `POST /locations?dryRun=true`."""

from __future__ import annotations

from typing import Any

from backstage_common.errors import InputError
from backstage_plugin_catalog_node import LocationSpec

from backstage_plugin_catalog_backend.processing._entities import entity_ref, location_entity
from backstage_plugin_catalog_backend.processing._orchestrator import Orchestrator

__all__ = ["dry_run"]

_DRY_RUN_LIMIT = 10_000


async def dry_run(orchestrator: Orchestrator, location: LocationSpec) -> list[dict[str, Any]]:
    """Process a location and everything it leads to in memory; nothing is written."""
    queue: list[dict[str, Any]] = [location_entity(location)]
    seen: set[str] = set()
    entities: list[dict[str, Any]] = []
    while queue:
        outcome = await orchestrator.process(queue.pop(0))
        if not outcome.ok:
            messages = [f"{e['name']}: {e['message']}" for e in outcome.errors]
            raise InputError("; ".join(messages))
        ref = entity_ref(outcome.entity)
        for duplicate in outcome.duplicates:
            raise InputError(f"Duplicate nested entity: {duplicate.ref}")
        if ref in seen:
            raise InputError(f"Duplicate nested entity: {ref}")
        seen.add(ref)
        entities.append(outcome.entity)
        queue.extend(child.entity for child in outcome.children)
        if len(entities) > _DRY_RUN_LIMIT:
            raise InputError(f"Location {location} leads to more than {_DRY_RUN_LIMIT} entities")
    return entities
