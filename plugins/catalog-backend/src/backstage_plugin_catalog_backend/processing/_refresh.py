"""Asking for an entity to be processed now (`POST /refresh`, re-registering a location)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime

import sqlalchemy as sa
from backstage_common.catalog_model import normalize_entity_ref_key
from backstage_common.errors import NotFoundError
from sqlalchemy.ext.asyncio import AsyncConnection

from backstage_plugin_catalog_backend._tables import refresh_state, refresh_state_references

__all__ = ["schedule_refresh"]


async def schedule_refresh(connection: AsyncConnection, refs: Collection[str]) -> None:
    """Make these entities and their `location:` ancestors due now. Raises
    `NotFoundError` for a ref nothing references."""
    wanted = {normalize_entity_ref_key(ref) for ref in refs}
    references = refresh_state_references.c
    known = set(
        (
            await connection.execute(
                sa.select(references.target_entity_ref)
                .where(references.target_entity_ref.in_(wanted))
                .distinct()
            )
        ).scalars()
    )
    missing = sorted(wanted - known)
    if missing:
        raise NotFoundError(f"Entity {missing[0]} not found")
    scheduled, frontier = set(wanted), set(wanted)
    while frontier:
        parents = set(
            (
                await connection.execute(
                    sa.select(references.source_entity_ref).where(
                        references.target_entity_ref.in_(frontier),
                        references.source_entity_ref.is_not(None),
                    )
                )
            ).scalars()
        )
        frontier = {ref for ref in parents - scheduled if ref.startswith("location:")}
        scheduled |= frontier
    await connection.execute(
        sa.update(refresh_state)
        .where(refresh_state.c.entity_ref.in_(scheduled))
        .values(next_update_at=datetime.now(UTC))
    )
