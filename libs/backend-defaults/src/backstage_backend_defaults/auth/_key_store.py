"""A plugin's public signing keys, kept in the plugin's own database.

The table is Backstage's `backstage_backend_public_keys__keys` (`id`, `key` as a JSON JWK,
`expires_at` as an ISO 8601 string), so replicas of one plugin share their keys. It is
created on first use, idempotently and under a Postgres advisory lock so replicas that
start together do not race; with `skipMigrations` it must already exist.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from backstage_backend_plugin_api import DatabaseService, LoggerService

if TYPE_CHECKING:  # SQLAlchemy loads only when a plugin issues or publishes keys
    from sqlalchemy import Table
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

__all__ = ["KEYS_TABLE", "DatabaseKeyStore", "StoredKey"]

KEYS_TABLE = "backstage_backend_public_keys__keys"


@dataclass(frozen=True)
class StoredKey:
    key: dict[str, Any]
    """The public key as a JWK, with `kid` and `alg`."""
    expires_at: datetime


def _table() -> Table:
    from sqlalchemy import Column, MetaData, String, Table, Text

    return Table(
        KEYS_TABLE,
        MetaData(),
        Column("id", String(255), primary_key=True),
        Column("key", Text, nullable=False),
        Column("expires_at", String(255), nullable=False),
    )


def _lock_key(plugin_id: str) -> int:
    digest = hashlib.sha256(f"backstage-py public keys {plugin_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class DatabaseKeyStore:
    """Adds and lists one plugin's public keys; expired keys are pruned when listing."""

    def __init__(self, database: DatabaseService, plugin_id: str, logger: LoggerService) -> None:
        self._database = database
        self._plugin_id = plugin_id
        self._logger = logger
        self._table: Table | None = None

    async def _ready(self) -> tuple[AsyncEngine, Table]:
        engine = await self._database.get_engine()
        if self._table is None:
            table = _table()
            if not self._database.migrations.skip:
                async with engine.begin() as connection:
                    await self._create(connection, table)
            self._table = table
        return engine, self._table

    async def _create(self, connection: AsyncConnection, table: Table) -> None:
        from sqlalchemy import text

        if connection.dialect.name == "postgresql":
            await connection.execute(
                text("SELECT pg_advisory_xact_lock(:k)"), {"k": _lock_key(self._plugin_id)}
            )
        await connection.run_sync(lambda sync: table.create(sync, checkfirst=True))

    async def add_key(self, key: dict[str, Any], expires_at: datetime) -> None:
        engine, table = await self._ready()
        async with engine.begin() as connection:
            await connection.execute(
                table.insert().values(
                    id=key["kid"], key=json.dumps(key), expires_at=_iso(expires_at)
                )
            )

    async def list_keys(self, now: datetime) -> list[StoredKey]:
        engine, table = await self._ready()
        async with engine.connect() as connection:
            rows = (await connection.execute(table.select())).all()
        valid: list[StoredKey] = []
        expired: list[str] = []
        for row in rows:
            expires_at = _parse_time(row.expires_at)
            if expires_at <= now:
                expired.append(row.id)
            else:
                valid.append(StoredKey(json.loads(row.key), expires_at))
        if expired:
            await self._prune(engine, table, expired)
        return valid

    async def _prune(self, engine: AsyncEngine, table: Table, ids: list[str]) -> None:
        listed = "', '".join(ids)
        self._logger.info(f"Removing expired plugin service keys, '{listed}'")
        try:
            async with engine.begin() as connection:
                await connection.execute(table.delete().where(table.c.id.in_(ids)))
        except Exception as error:  # another replica may be pruning too; never fatal
            self._logger.warn("Failed to remove expired plugin service keys", error)
