"""Registered locations (`/locations`): the `locations` table, and the provider that turns
each row into a Location entity (`DefaultLocationStore`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from backstage_common.errors import ConflictError, NotFoundError
from backstage_plugin_catalog_node import (
    DeferredEntity,
    DeltaMutation,
    EntityProviderConnection,
    FullMutation,
    LocationSpec,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from backstage_plugin_catalog_backend._tables import locations
from backstage_plugin_catalog_backend.processing import (
    CatalogProcessingEngine,
    location_entity,
    location_entity_ref,
)

__all__ = ["LocationRow", "LocationStore"]


@dataclass(frozen=True, slots=True)
class LocationRow:
    id: str
    type: str
    target: str

    @property
    def entity_ref(self) -> str:
        return location_entity_ref(LocationSpec(self.type, self.target))

    def to_json(self) -> dict[str, str]:
        return {
            "id": self.id,
            "type": self.type,
            "target": self.target,
            "entityRef": self.entity_ref,
        }


def _deferred(row: LocationRow) -> DeferredEntity:
    spec = LocationSpec(row.type, row.target)
    return DeferredEntity(location_entity(spec), str(spec))


class LocationStore:
    """CRUD on registered locations. Each change of a row and the delta mutation of its
    Location entity are one transaction, so that a database failure cannot leave a location
    registered but never ingested, nor deleted but still served. (Backstage's
    `DefaultLocationStore` commits the row, then applies the mutation on its own.)"""

    name = "DefaultLocationStore"

    def __init__(self, engine: CatalogProcessingEngine) -> None:
        self._engine = engine

    async def connect(self, connection: EntityProviderConnection) -> None:
        # Read under the provider's lock, so that a location another replica registers
        # meanwhile is either in the list or added after this full mutation, never lost.
        async with self._engine.provider_transaction(self.name) as transaction:
            rows = await self._rows(transaction.connection)
            await transaction.apply(FullMutation([_deferred(row) for row in rows]))

    async def list_all(self) -> list[LocationRow]:
        async with self._engine.transaction() as connection:
            return await self._rows(connection)

    @staticmethod
    async def _rows(connection: AsyncConnection) -> list[LocationRow]:
        rows = await connection.execute(
            sa.select(locations.c.id, locations.c.type, locations.c.target).order_by(locations.c.id)
        )
        return [LocationRow(*row) for row in rows]

    async def query(
        self, where: sa.ColumnElement[bool] | None, after_id: str | None, limit: int
    ) -> tuple[list[LocationRow], int]:
        async with self._engine.transaction() as connection:
            condition = where if where is not None else sa.true()
            total = await connection.scalar(
                sa.select(sa.func.count()).select_from(locations).where(condition)
            )
            statement = sa.select(locations.c.id, locations.c.type, locations.c.target).where(
                condition
            )
            if after_id is not None:
                statement = statement.where(locations.c.id > after_id)
            rows = await connection.execute(statement.order_by(locations.c.id).limit(limit))
            return [LocationRow(*row) for row in rows], int(total or 0)

    @staticmethod
    async def _find(connection: AsyncConnection, id_: str) -> LocationRow:
        row = (
            await connection.execute(
                sa.select(locations.c.id, locations.c.type, locations.c.target).where(
                    locations.c.id == id_
                )
            )
        ).first()
        if row is None:
            raise NotFoundError(f"Found no location with ID {id_}")
        return LocationRow(*row)

    async def get(self, id_: str) -> LocationRow:
        async with self._engine.transaction() as connection:
            return await self._find(connection, id_)

    async def find_by_spec(self, type_: str, target: str) -> LocationRow | None:
        async with self._engine.transaction() as connection:
            row = (
                await connection.execute(
                    sa.select(locations.c.id, locations.c.type, locations.c.target).where(
                        locations.c.type == type_, locations.c.target == target
                    )
                )
            ).first()
        return LocationRow(*row) if row else None

    async def create(self, type_: str, target: str) -> LocationRow:
        if await self.find_by_spec(type_, target) is not None:
            raise ConflictError(f"Location {type_}:{target} already exists")
        row = LocationRow(str(uuid.uuid4()), type_, target)
        async with self._engine.provider_transaction(self.name) as transaction:
            try:
                await transaction.connection.execute(
                    sa.insert(locations).values(
                        id=row.id,
                        type=row.type,
                        target=row.target,
                        location_entity_ref=row.entity_ref,
                    )
                )
            except sa.exc.IntegrityError as error:
                raise ConflictError(f"Location {type_}:{target} already exists") from error
            await transaction.apply(DeltaMutation(added=[_deferred(row)]))
        return row

    async def update(self, id_: str, type_: str, target: str) -> LocationRow:
        async with self._engine.provider_transaction(self.name) as transaction:
            connection = transaction.connection
            old = await self._find(connection, id_)
            clash = (
                await connection.execute(
                    sa.select(locations.c.id).where(
                        locations.c.type == type_,
                        locations.c.target == target,
                        locations.c.id != id_,
                    )
                )
            ).first()
            if clash is not None:
                raise ConflictError(f"Location {type_}:{target} already exists")
            row = LocationRow(id_, type_, target)
            try:
                await connection.execute(
                    sa.update(locations)
                    .where(locations.c.id == id_)
                    .values(type=type_, target=target, location_entity_ref=row.entity_ref)
                )
            except sa.exc.IntegrityError as error:
                raise ConflictError(f"Location {type_}:{target} already exists") from error
            if old != row:
                await transaction.apply(
                    DeltaMutation(added=[_deferred(row)], removed=[_deferred(old)])
                )
        return row

    async def delete(self, id_: str) -> None:
        async with self._engine.provider_transaction(self.name) as transaction:
            connection = transaction.connection
            deleted = (
                await connection.execute(
                    sa.delete(locations)
                    .where(locations.c.id == id_)
                    .returning(locations.c.id, locations.c.type, locations.c.target)
                )
            ).first()
            if deleted is None:
                raise NotFoundError(f"Found no location with ID {id_}")
            await transaction.apply(DeltaMutation(removed=[_deferred(LocationRow(*deleted))]))

    async def refresh(self, row: LocationRow) -> None:
        await self._engine.refresh_now([row.entity_ref])
