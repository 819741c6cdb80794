"""Every statement on the tasks table: register, claim, release, trigger, cancel, sweep.

A run is claimed with a conditional UPDATE that sets `current_run_ticket` only where it is
NULL and the run is due, which has exactly one winner on Postgres and SQLite alike. Times
come from the database on Postgres, so replicas agree on them whatever their clocks say.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from backstage_backend_plugin_api import DatabaseService
from backstage_common.errors import BackstageError, ConflictError, NotFoundError
from sqlalchemy import exists, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from backstage_backend_defaults.scheduler._settings import TaskSettings
from backstage_backend_defaults.scheduler._table import tasks

__all__ = ["Claim", "TaskGone", "TaskStore", "serialize_error"]


def serialize_error(error: BaseException | str) -> str:
    """Backstage's serialized error: `{"name", "message"}` as a JSON string."""
    if isinstance(error, str):
        return json.dumps({"name": "Error", "message": error})
    name = error.name if isinstance(error, BackstageError) else type(error).__name__
    return json.dumps({"name": name, "message": str(error)})


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _iso(value: datetime | None) -> str | None:
    moment = _utc(value)
    return None if moment is None else moment.isoformat()


def _earliest(first: datetime | None, second: datetime | None) -> datetime | None:
    if first is None or second is None:
        return second if first is None else first
    return min(first, second)


@dataclass(frozen=True)
class Claim:
    """A run this worker holds: its ticket, and the settings stored with the task."""

    ticket: str
    settings: TaskSettings


class TaskGone(Exception):
    """The task's row vanished or holds settings this version cannot read."""


_IDLE_RUN: dict[str, Any] = {
    "current_run_ticket": None,
    "current_run_started_at": None,
    "current_run_expires_at": None,
}


class TaskStore:
    """The tasks table of one plugin's database."""

    def __init__(self, database: DatabaseService, *, postgres: bool) -> None:
        self._database = database
        self._postgres = postgres

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[tuple[AsyncConnection, datetime]]:
        # the database service's transactions: on SQLite they take turns with the plugin's
        # other writers
        async with self._database.transaction() as connection:
            yield connection, await self._now(connection)

    async def _now(self, connection: AsyncConnection) -> datetime:
        if not self._postgres:
            return datetime.now(UTC)
        now = (await connection.execute(select(func.now()))).scalar_one()
        assert isinstance(now, datetime)
        return now.astimezone(UTC)

    def _insert(self) -> Any:
        return (postgresql if self._postgres else sqlite).insert(tasks)

    async def register(self, task_id: str, settings: TaskSettings) -> datetime | None:
        """Store the task's settings; returns when it runs next.

        A new task runs first per its settings. A known task keeps its next run while its
        cadence is unchanged (a restart does not run it again within its period); a
        changed cadence recomputes the next run from the end of the last run.
        """
        async with self._transaction() as (connection, now):
            first = settings.first_run(now)
            inserted = await connection.execute(
                self._insert()
                .values(id=task_id, settings_json=settings.to_json(), next_run_start_at=first)
                .on_conflict_do_nothing(index_elements=["id"])
            )
            if inserted.rowcount == 1:
                return first
            row = (
                await connection.execute(
                    select(
                        tasks.c.settings_json, tasks.c.next_run_start_at, tasks.c.last_run_ended_at
                    )
                    .where(tasks.c.id == task_id)
                    .with_for_update()
                )
            ).one()
            try:
                stored: TaskSettings | None = TaskSettings.from_json(row.settings_json)
            except (ValueError, KeyError, TypeError):
                stored = None
            if stored is None or stored.cadence != settings.cadence:
                next_run = settings.next_run_after_change(
                    now, last_ended=_utc(row.last_run_ended_at)
                )
            else:
                next_run = _earliest(_utc(row.next_run_start_at), settings.next_run(now, slot=None))
            await connection.execute(
                update(tasks)
                .where(tasks.c.id == task_id)
                .values(settings_json=settings.to_json(), next_run_start_at=next_run)
            )
            return next_run

    async def try_claim(self, task_id: str, ticket: str) -> Claim | None:
        """Claim the run when it is due and nobody holds it; None when not claimed.

        Raises TaskGone when the row vanished or its settings cannot be read.
        """
        async with self._transaction() as (connection, now):
            row = (
                await connection.execute(
                    select(
                        tasks.c.settings_json,
                        tasks.c.next_run_start_at,
                        tasks.c.current_run_ticket,
                    ).where(tasks.c.id == task_id)
                )
            ).one_or_none()
            if row is None:
                raise TaskGone(f"Task {task_id} is no longer in the database")
            try:
                settings = TaskSettings.from_json(row.settings_json)
            except (ValueError, KeyError, TypeError) as error:
                raise TaskGone(
                    f"Task {task_id} has settings this version cannot read, {error}"
                ) from error
            due = _utc(row.next_run_start_at)
            if row.current_run_ticket is not None or due is None or due > now:
                return None
            claimed = await connection.execute(
                update(tasks)
                .where(
                    tasks.c.id == task_id,
                    tasks.c.current_run_ticket.is_(None),
                    tasks.c.next_run_start_at <= now,
                )
                .values(
                    current_run_ticket=ticket,
                    current_run_started_at=now,
                    current_run_expires_at=now + settings.timeout,
                )
            )
            return Claim(ticket, settings) if claimed.rowcount == 1 else None

    async def holds(self, task_id: str, ticket: str) -> bool:
        """Whether `ticket` still holds the task's run (not cancelled, not expired)."""
        async with self._transaction() as (connection, _):
            held = await connection.execute(
                select(exists().where(tasks.c.id == task_id, tasks.c.current_run_ticket == ticket))
            )
            return bool(held.scalar_one())

    async def release(
        self,
        task_id: str,
        claim: Claim,
        *,
        error: BaseException | str | None,
        keep_next_run: bool = False,
    ) -> bool:
        """End the run held by `claim` and set the next one; False when it was lost.

        The next run follows the settings stored now, which a newer replica may have
        changed while this run went on. `keep_next_run` leaves the task due, for a run
        cut short by shutdown that another replica should take over.
        """
        async with self._transaction() as (connection, now):
            row = (
                await connection.execute(
                    select(tasks.c.settings_json, tasks.c.next_run_start_at)
                    .where(tasks.c.id == task_id, tasks.c.current_run_ticket == claim.ticket)
                    .with_for_update()
                )
            ).one_or_none()
            if row is None:
                return False
            slot = _utc(row.next_run_start_at)
            try:
                settings = TaskSettings.from_json(row.settings_json)
            except (ValueError, KeyError, TypeError):
                settings = claim.settings
            next_run = slot if keep_next_run else settings.next_run(now, slot=slot)
            released = await connection.execute(
                update(tasks)
                .where(tasks.c.id == task_id, tasks.c.current_run_ticket == claim.ticket)
                .values(
                    **_IDLE_RUN,
                    next_run_start_at=next_run,
                    last_run_ended_at=now,
                    last_run_error_json=None if error is None else serialize_error(error),
                )
            )
            return bool(released.rowcount == 1)

    async def unclaim(self, task_id: str, claim: Claim) -> None:
        """Give back a claim that was never run (the worker is stopping); still due."""
        async with self._transaction() as (connection, _):
            await connection.execute(
                update(tasks)
                .where(tasks.c.id == task_id, tasks.c.current_run_ticket == claim.ticket)
                .values(**_IDLE_RUN)
            )

    async def trigger(self, task_id: str) -> None:
        """Make the task due now; NotFoundError when unknown, ConflictError when running."""
        async with self._transaction() as (connection, now):
            triggered = await connection.execute(
                update(tasks)
                .where(tasks.c.id == task_id, tasks.c.current_run_ticket.is_(None))
                .values(next_run_start_at=now)
            )
            if triggered.rowcount == 1:
                return
            known = await connection.execute(select(exists().where(tasks.c.id == task_id)))
            if not known.scalar_one():
                raise NotFoundError(f"Task {task_id} does not exist")
            raise ConflictError(f"Task {task_id} is currently running")

    async def cancel(self, task_id: str) -> None:
        """End the current run wherever it goes on (its worker sees its lease gone and
        aborts it); the task next runs per its cadence."""
        async with self._transaction() as (connection, now):
            row = (
                await connection.execute(
                    select(
                        tasks.c.settings_json,
                        tasks.c.next_run_start_at,
                        tasks.c.current_run_ticket,
                    )
                    .where(tasks.c.id == task_id)
                    .with_for_update()
                )
            ).one_or_none()
            if row is None:
                raise NotFoundError(f"Task {task_id} does not exist")
            if row.current_run_ticket is None:
                raise ConflictError(f"Task {task_id} is not running")
            slot = _utc(row.next_run_start_at)
            try:
                next_run = TaskSettings.from_json(row.settings_json).next_run(now, slot=slot)
            except (ValueError, KeyError, TypeError):
                next_run = slot
            await connection.execute(
                update(tasks)
                .where(tasks.c.id == task_id, tasks.c.current_run_ticket == row.current_run_ticket)
                .values(
                    **_IDLE_RUN,
                    next_run_start_at=next_run,
                    last_run_ended_at=now,
                    last_run_error_json=serialize_error("Task was cancelled"),
                )
            )

    async def release_expired(self, grace: timedelta) -> list[str]:
        """Release runs past their timeout plus `grace` (the time their own worker has to
        stop them and release them itself): their worker died. The tasks stay due, so
        another worker runs them. Returns their ids."""
        async with self._transaction() as (connection, now):
            rows = (
                await connection.execute(
                    select(tasks.c.id, tasks.c.current_run_ticket)
                    .where(tasks.c.current_run_expires_at < now - grace)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            released: list[str] = []
            for row in rows:
                result = await connection.execute(
                    update(tasks)
                    .where(
                        tasks.c.id == row.id, tasks.c.current_run_ticket == row.current_run_ticket
                    )
                    .values(
                        **_IDLE_RUN,
                        last_run_ended_at=now,
                        last_run_error_json=serialize_error("Task timed out"),
                    )
                )
                if result.rowcount == 1:
                    released.append(row.id)
            return released

    async def task_states(self) -> dict[str, dict[str, Any]]:
        """Each task's state as the scheduler's HTTP API shows it."""
        async with self._transaction() as (connection, _):
            rows = (await connection.execute(select(tasks))).all()
        states: dict[str, dict[str, Any]] = {}
        for row in rows:
            if row.current_run_started_at is not None:
                state: dict[str, Any] = {
                    "status": "running",
                    "startedAt": _iso(row.current_run_started_at),
                    "timesOutAt": _iso(row.current_run_expires_at),
                }
            else:
                state = {"status": "idle", "startsAt": _iso(row.next_run_start_at)}
            state["lastRunEndedAt"] = _iso(row.last_run_ended_at)
            state["lastRunError"] = row.last_run_error_json
            states[row.id] = {key: value for key, value in state.items() if value is not None}
        return states
