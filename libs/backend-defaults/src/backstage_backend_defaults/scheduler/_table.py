"""The table of global tasks, shared by every replica through the plugin's database."""

from __future__ import annotations

import hashlib

from sqlalchemy import Column, DateTime, MetaData, String, Table, Text, text
from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["TASKS_TABLE", "ensure_tasks_table", "tasks"]

TASKS_TABLE = "backstage_backend_tasks__tasks"

_metadata = MetaData()

tasks = Table(
    TASKS_TABLE,
    _metadata,
    Column("id", String(255), primary_key=True),
    Column("settings_json", Text, nullable=False),
    Column("next_run_start_at", DateTime(timezone=True), nullable=True),
    Column("current_run_ticket", String(255), nullable=True),
    Column("current_run_started_at", DateTime(timezone=True), nullable=True),
    Column("current_run_expires_at", DateTime(timezone=True), nullable=True),
    Column("last_run_ended_at", DateTime(timezone=True), nullable=True),
    Column("last_run_error_json", Text, nullable=True),
)

_LOCK_KEY = int.from_bytes(
    hashlib.sha256(f"backstage-py {TASKS_TABLE}".encode()).digest()[:8], "big", signed=True
)


async def ensure_tasks_table(engine: AsyncEngine) -> None:
    """Create the table if it is missing; replicas starting together create it once."""
    async with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        await connection.run_sync(_metadata.create_all, checkfirst=True)
