"""Single entities: by uid, by name, their ancestry, and deletion by uid."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
import sqlalchemy as sa
from backstage_common.errors import NotFoundError
from litestar import Request, Response, delete, get
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from backstage_plugin_catalog_backend._tables import (
    final_entities,
    refresh_state,
    refresh_state_references,
    relations,
)
from backstage_plugin_catalog_backend.api._entity_texts import EntityTexts
from backstage_plugin_catalog_backend.api._input import has_nul
from backstage_plugin_catalog_backend.api._params import QueryParams
from backstage_plugin_catalog_backend.api._responses import json_response
from backstage_plugin_catalog_backend.stitching import stitch_entities

__all__ = ["CHILD_WAS_DELETED", "single_routes"]

CHILD_WAS_DELETED = "child-was-deleted"
_encode = msgspec.json.encode


async def _final_text(connection: AsyncConnection, condition: sa.ColumnElement[bool]) -> str | None:
    statement = sa.select(final_entities.c.final_entity).where(
        condition, final_entities.c.final_entity.is_not(None)
    )
    text: str | None = (await connection.execute(statement)).scalar_one_or_none()
    return text


async def _ancestry(connection: AsyncConnection, root_ref: str) -> list[tuple[str, str, list[str]]]:
    """(ref, entity text, parent refs) of the root and every entity above it, level by level."""
    root = await _final_text(connection, final_entities.c.entity_ref == root_ref)
    if root is None:
        raise NotFoundError(f"No such entity {root_ref}")
    texts = {root_ref: root}
    order = [root_ref]
    parents: dict[str, list[str]] = {}
    frontier = [root_ref]
    while frontier:
        statement = (
            sa.select(
                refresh_state_references.c.target_entity_ref,
                final_entities.c.entity_ref,
                final_entities.c.final_entity,
            )
            .join(
                final_entities,
                final_entities.c.entity_ref == refresh_state_references.c.source_entity_ref,
            )
            .where(
                refresh_state_references.c.target_entity_ref.in_(frontier),
                final_entities.c.final_entity.is_not(None),
            )
            .order_by(final_entities.c.entity_ref)
        )
        next_frontier: list[str] = []
        for target, parent, text in await connection.execute(statement):
            parents.setdefault(target, []).append(parent)
            if parent not in texts:
                texts[parent] = text
                order.append(parent)
                next_frontier.append(parent)
        frontier = next_frontier
    return [(ref, texts[ref], parents.get(ref, [])) for ref in order]


async def _delete_entity(connection: AsyncConnection, uid: str) -> None:
    """Delete the entity's refresh state (cascading to everything derived from it), make its
    parents reprocess and re-stitch the entities its relations pointed at."""
    ref = (
        await connection.execute(
            sa.select(refresh_state.c.entity_ref).where(refresh_state.c.entity_id == uid)
        )
    ).scalar_one_or_none()
    if ref is None:
        return
    parents = sa.select(refresh_state_references.c.source_entity_ref).where(
        refresh_state_references.c.target_entity_ref == ref,
        refresh_state_references.c.source_entity_ref.is_not(None),
    )
    await connection.execute(
        sa.update(refresh_state)
        .where(refresh_state.c.entity_ref.in_(parents))
        .values(result_hash=CHILD_WAS_DELETED, next_update_at=datetime.now(UTC))
    )
    peers = sa.union(
        sa.select(relations.c.source_entity_ref.label("ref")).where(
            relations.c.originating_entity_id == uid
        ),
        sa.select(relations.c.target_entity_ref.label("ref")).where(
            relations.c.originating_entity_id == uid
        ),
    )
    peer_refs = {peer for peer in (await connection.execute(peers)).scalars() if peer != ref}
    await connection.execute(sa.delete(refresh_state).where(refresh_state.c.entity_id == uid))
    if peer_refs:
        await stitch_entities(connection, peer_refs)


def single_routes(
    engine: AsyncEngine, reads: AsyncEngine, texts: EntityTexts
) -> list[HTTPRouteHandler]:
    @get("/entities/by-uid/{uid:str}")
    async def get_by_uid(request: Request[Any, Any, Any], uid: FromPath[str]) -> Response[bytes]:
        QueryParams(request, ())
        # No stored key holds a NUL, and the database refuses one in a parameter.
        text = None if has_nul(uid) else await texts.by_uid(uid)
        if text is None:
            raise NotFoundError(f"No entity with uid {uid}")
        return json_response(text)

    @delete("/entities/by-uid/{uid:str}", status_code=204)
    async def delete_by_uid(request: Request[Any, Any, Any], uid: FromPath[str]) -> None:
        QueryParams(request, ())
        if has_nul(uid):
            return
        async with engine.begin() as connection:
            await _delete_entity(connection, uid)

    @get("/entities/by-name/{kind:str}/{namespace:str}/{name:str}")
    async def get_by_name(
        request: Request[Any, Any, Any],
        kind: FromPath[str],
        namespace: FromPath[str],
        name: FromPath[str],
    ) -> Response[bytes]:
        QueryParams(request, ())
        ref = f"{kind}:{namespace}/{name}".lower()
        text = None if has_nul(ref) else await texts.by_ref(ref)
        if text is None:
            raise NotFoundError(
                f"No entity named '{name}' found, with kind '{kind}' in namespace '{namespace}'"
            )
        return json_response(text)

    @get("/entities/by-name/{kind:str}/{namespace:str}/{name:str}/ancestry")
    async def get_ancestry(
        request: Request[Any, Any, Any],
        kind: FromPath[str],
        namespace: FromPath[str],
        name: FromPath[str],
    ) -> Response[bytes]:
        QueryParams(request, ())
        root_ref = f"{kind}:{namespace}/{name}".lower()
        if has_nul(root_ref):
            raise NotFoundError(f"No such entity {root_ref}")
        async with reads.connect() as connection:
            items = await _ancestry(connection, root_ref)
        body = ",".join(
            '{"entity":' + text + ',"parentEntityRefs":' + _encode(parents).decode() + "}"
            for _, text, parents in items
        )
        root = _encode(root_ref).decode()
        return json_response('{"rootEntityRef":' + root + ',"items":[' + body + "]}")

    return [get_by_uid, delete_by_uid, get_by_name, get_ancestry]
