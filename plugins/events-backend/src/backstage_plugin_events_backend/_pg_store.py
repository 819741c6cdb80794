"""The bus in PostgreSQL: two tables in the events plugin's database, and `LISTEN`/`NOTIFY`
on `event_bus_publish` so that a publish on one replica wakes the long polls of all."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import msgspec
import sqlalchemy as sa
from backstage_backend_plugin_api import DatabaseService, LoggerService
from backstage_common.errors import NotFoundError
from sqlalchemy.ext.asyncio import AsyncConnection

from backstage_plugin_events_backend._store import MAX_READ, BusEvent, TopicWaiters

__all__ = ["PostgresEventBusStore"]

CHANNEL = "event_bus_publish"
_KEEP_NEWEST = 10_000

_PUBLISH = sa.text(
    """
    INSERT INTO event_bus_events (created_by, topic, data_json, notified_subscribers)
    SELECT :created_by, :topic, :data_json, CAST(:notified AS text[])
    WHERE EXISTS (
        SELECT 1 FROM event_bus_subscriptions
        WHERE :topic = ANY(topics) AND NOT (id = ANY(CAST(:notified AS text[])))
    )
    RETURNING id
    """
)
_NOTIFY = sa.text("SELECT pg_notify(:channel, :topic)")
_UPSERT = sa.text(
    """
    INSERT INTO event_bus_subscriptions (id, created_by, read_until, topics)
    VALUES (
        :id, :created_by,
        (SELECT COALESCE(MAX(id), 0) FROM event_bus_events),
        CAST(:topics AS text[])
    )
    ON CONFLICT (id) DO UPDATE SET topics = EXCLUDED.topics, updated_at = now()
    """
)
# one statement: the subscription row is locked, so consumers sharing it take turns and
# never get the same event; with nothing to read, the pointer jumps to the newest event
_READ = sa.text(
    f"""
    WITH sub AS (
        SELECT id, read_until, topics FROM event_bus_subscriptions WHERE id = :id FOR UPDATE
    ), selected AS (
        SELECT e.id, e.topic, e.data_json
        FROM event_bus_events e JOIN sub ON e.id > sub.read_until
        WHERE e.topic = ANY(sub.topics) AND NOT (sub.id = ANY(e.notified_subscribers))
        ORDER BY e.id ASC
        LIMIT {MAX_READ}
    ), moved AS (
        UPDATE event_bus_subscriptions s
        SET read_until = COALESCE(
            (SELECT MAX(id) FROM selected), (SELECT MAX(id) FROM event_bus_events), 0
        ), updated_at = now()
        FROM sub WHERE s.id = sub.id
        RETURNING s.id
    )
    SELECT (SELECT COUNT(*) FROM moved) AS found, selected.id, selected.topic, selected.data_json
    FROM (SELECT 1) AS one LEFT JOIN selected ON true
    ORDER BY selected.id ASC
    """
)
_TOPICS = sa.text("SELECT topics FROM event_bus_subscriptions WHERE id = :id")
_CLEANUP = (
    sa.text(
        f"""
        DELETE FROM event_bus_events
        WHERE (id < (SELECT MIN(id) FROM (
                    SELECT id FROM event_bus_events ORDER BY id DESC LIMIT {_KEEP_NEWEST}
                ) AS newest)
               AND created_at < now() - interval '10 minutes')
           OR created_at < now() - interval '24 hours'
        """
    ),
    sa.text(
        """
        DELETE FROM event_bus_subscriptions
        WHERE read_until < (SELECT MIN(id) FROM event_bus_events) - 1
           OR (NOT EXISTS (SELECT 1 FROM event_bus_events)
               AND updated_at < now() - interval '24 hours')
        """
    ),
)


class PostgresEventBusStore:
    """The bus in the events plugin's PostgreSQL database.

    Args:
        database: the events plugin's database (migrated).
        logger: where a lost notification connection is reported.
    """

    def __init__(self, database: DatabaseService, logger: LoggerService) -> None:
        self._database = database
        self._logger = logger
        self._waiters = TopicWaiters()
        self._listener: AsyncConnection | None = None
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        """Listen for publishes on every replica."""
        await self._ensure_listener()

    async def publish(
        self, *, topic: str, payload: Any, notified_subscribers: Sequence[str], created_by: str
    ) -> bool:
        data = msgspec.json.encode({"payload": payload}).decode()
        async with self._database.transaction() as connection:
            stored = (
                await connection.execute(
                    _PUBLISH,
                    {
                        "created_by": created_by,
                        "topic": topic,
                        "data_json": data,
                        "notified": list(notified_subscribers),
                    },
                )
            ).first()
            if stored is not None:
                # sent on commit, to every replica listening (this one included)
                await connection.execute(_NOTIFY, {"channel": CHANNEL, "topic": topic})
        return stored is not None

    async def upsert_subscription(self, *, id: str, topics: Sequence[str], created_by: str) -> None:
        async with self._database.transaction() as connection:
            await connection.execute(
                _UPSERT, {"id": id, "created_by": created_by, "topics": list(topics)}
            )

    async def read_subscription(self, id: str) -> list[BusEvent]:
        async with self._database.transaction() as connection:
            rows = (await connection.execute(_READ, {"id": id})).all()
        if not rows or rows[0].found == 0:
            raise NotFoundError(f"Subscription '{id}' not found")
        events: list[BusEvent] = []
        for row in rows:
            if row.id is None:
                continue
            data = msgspec.json.decode(row.data_json)
            events.append(BusEvent(row.topic, data.get("payload")))
        return events

    async def topics_of(self, id: str) -> list[str]:
        engine = await self._database.get_engine()
        async with engine.connect() as connection:
            row = (await connection.execute(_TOPICS, {"id": id})).first()
        if row is None:
            raise NotFoundError(f"Subscription '{id}' not found")
        return list(row.topics)

    def waiters(self) -> TopicWaiters:
        return self._waiters

    async def cleanup(self) -> None:
        async with self._database.transaction(purpose="background") as connection:
            for statement in _CLEANUP:
                await connection.execute(statement)
        await self._ensure_listener()

    async def close(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            await listener.close()

    async def _ensure_listener(self) -> None:
        async with self._lock:
            if self._listener is not None and not self._listener.closed:
                raw = await self._listener.get_raw_connection()
                if not raw.driver_connection.is_closed():  # type: ignore[union-attr]
                    return
                self._logger.warn("The event bus lost its notification connection; reconnecting")
                await self._listener.close()
            engine = await self._database.get_engine(purpose="background")
            listener = await engine.connect()
            raw = await listener.get_raw_connection()
            driver: Any = raw.driver_connection
            await driver.add_listener(CHANNEL, self._on_notification)
            self._listener = listener

    def _on_notification(self, _connection: Any, _pid: int, _channel: str, topic: str) -> None:
        self._waiters.notify(topic)
