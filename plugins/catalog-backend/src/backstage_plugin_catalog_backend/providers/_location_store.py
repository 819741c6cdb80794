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

from backstage_plugin_catalog_backend._tables import final_entities, locations
from backstage_plugin_catalog_backend.processing import location_entity, location_entity_ref
from backstage_plugin_catalog_backend.providers._database import (
    ProviderDatabase,
    ProviderTransaction,
)

__all__ = ["LocationRow", "LocationStore"]


@dataclass(frozen=True, slots=True)
class LocationRow:
    id: str
    type: str
    target: str
    entity_ref: str
    """The ref of its Location entity, set when it was registered: an update of the type or
    target keeps it, as in Backstage."""

    def to_json(self) -> dict[str, str]:
        return {
            "id": self.id,
            "type": self.type,
            "target": self.target,
            "entityRef": self.entity_ref,
        }


_COLUMNS = (locations.c.id, locations.c.type, locations.c.target, locations.c.location_entity_ref)


def _deferred(row: LocationRow) -> DeferredEntity:
    spec = LocationSpec(row.type, row.target)
    entity = location_entity(spec)
    # named by the stored ref, which an update keeps (Backstage's `locationEntityRef`)
    entity["metadata"]["name"] = row.entity_ref.rpartition("/")[2]
    return DeferredEntity(entity, str(spec))


class LocationStore:
    """CRUD on registered locations. Each change of a row and the delta mutation of its
    Location entity are one transaction, so that a database failure cannot leave a location
    registered but never ingested, nor deleted but still served. (Backstage's
    `DefaultLocationStore` commits the row, then applies the mutation on its own.)

    Its transactions come from `database`, on the request pool: registering a location is
    a request, and must not queue behind the processing loop's connections."""

    name = "DefaultLocationStore"

    def __init__(self, database: ProviderDatabase) -> None:
        self._database = database

    async def connect(self, connection: EntityProviderConnection) -> None:
        # Read under the provider's lock, so that a location another replica registers
        # meanwhile is either in the list or added after this full mutation, never lost.
        async def apply(transaction: ProviderTransaction) -> None:
            rows = await self._rows(transaction.connection)
            await transaction.apply(FullMutation([_deferred(row) for row in rows]))

        await self._database.provider_transaction(self.name, apply)

    async def list_all(self) -> list[LocationRow]:
        async with self._database.transaction() as connection:
            return await self._rows(connection)

    @staticmethod
    async def _rows(connection: AsyncConnection) -> list[LocationRow]:
        rows = await connection.execute(sa.select(*_COLUMNS).order_by(locations.c.id))
        return [LocationRow(*row) for row in rows]

    async def query(
        self, where: sa.ColumnElement[bool] | None, after_id: str | None, limit: int
    ) -> tuple[list[LocationRow], int]:
        async with self._database.transaction() as connection:
            condition = where if where is not None else sa.true()
            total = await connection.scalar(
                sa.select(sa.func.count()).select_from(locations).where(condition)
            )
            statement = sa.select(*_COLUMNS).where(condition)
            if after_id is not None:
                statement = statement.where(locations.c.id > after_id)
            rows = await connection.execute(statement.order_by(locations.c.id).limit(limit))
            return [LocationRow(*row) for row in rows], int(total or 0)

    @staticmethod
    async def _find(connection: AsyncConnection, id_: str) -> LocationRow:
        row = (await connection.execute(sa.select(*_COLUMNS).where(locations.c.id == id_))).first()
        if row is None:
            raise NotFoundError(f"Found no location with ID {id_}")
        return LocationRow(*row)

    async def get(self, id_: str) -> LocationRow:
        async with self._database.transaction() as connection:
            return await self._find(connection, id_)

    async def find_by_spec(self, type_: str, target: str) -> LocationRow | None:
        async with self._database.transaction() as connection:
            row = (
                await connection.execute(
                    sa.select(*_COLUMNS).where(
                        locations.c.type == type_, locations.c.target == target
                    )
                )
            ).first()
        return LocationRow(*row) if row else None

    async def create(self, type_: str, target: str) -> LocationRow:
        if await self.find_by_spec(type_, target) is not None:
            raise ConflictError(f"Location {type_}:{target} already exists")
        row = LocationRow(
            str(uuid.uuid4()), type_, target, location_entity_ref(LocationSpec(type_, target))
        )

        async def insert(transaction: ProviderTransaction) -> None:
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

        await self._database.provider_transaction(self.name, insert)
        return row

    async def update(self, id_: str, type_: str, target: str) -> LocationRow:
        """Change the type and target; the entity ref stays, and the same Location entity
        now stands for the new target (Backstage's `updateLocation`)."""

        async def update(transaction: ProviderTransaction) -> LocationRow:
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
            row = LocationRow(id_, type_, target, old.entity_ref)
            try:
                await connection.execute(
                    sa.update(locations)
                    .where(locations.c.id == id_)
                    .values(type=type_, target=target)
                )
            except sa.exc.IntegrityError as error:
                raise ConflictError(f"Location {type_}:{target} already exists") from error
            if old != row:
                await transaction.apply(DeltaMutation(added=[_deferred(row)]))
            return row

        return await self._database.provider_transaction(self.name, update)

    async def delete(self, id_: str) -> None:
        async def delete(transaction: ProviderTransaction) -> None:
            deleted = (
                await transaction.connection.execute(
                    sa.delete(locations).where(locations.c.id == id_).returning(*_COLUMNS)
                )
            ).first()
            if deleted is None:
                raise NotFoundError(f"Found no location with ID {id_}")
            await transaction.apply(DeltaMutation(removed=[_deferred(LocationRow(*deleted))]))

        await self._database.provider_transaction(self.name, delete)

    async def final_entity(self, ref: str) -> str | None:
        """The final entity `ref` (JSON), to find the location it came from."""
        async with self._database.transaction() as connection:
            text: str | None = await connection.scalar(
                sa.select(final_entities.c.final_entity).where(final_entities.c.entity_ref == ref)
            )
        return text
