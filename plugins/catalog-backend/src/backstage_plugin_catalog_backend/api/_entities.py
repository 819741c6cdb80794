"""Entity read endpoints."""

from __future__ import annotations

import sqlalchemy as sa
from litestar import Response, get
from litestar.handlers import HTTPRouteHandler
from sqlalchemy.ext.asyncio import AsyncEngine

from backstage_plugin_catalog_backend._tables import final_entities

__all__ = ["entity_routes"]


def entity_routes(engine: AsyncEngine) -> list[HTTPRouteHandler]:
    """`GET /entities` (to be completed with filters, fields, ordering and paging)."""

    @get("/entities")
    async def list_entities() -> Response[bytes]:
        async with engine.connect() as connection:
            texts = (
                await connection.execute(
                    sa.select(final_entities.c.final_entity)
                    .where(final_entities.c.final_entity.is_not(None))
                    .order_by(final_entities.c.entity_id)
                )
            ).scalars()
            body = "[" + ",".join(texts) + "]"
        return Response(body.encode(), media_type="application/json; charset=utf-8")

    return [list_entities]
