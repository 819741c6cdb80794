"""What the auth plugin keeps in its database besides keys: the claims of the last token
issued to each user (`user_info`, served by `/v1/userinfo`) and the OAuth flows in
progress (`oauth_flows`, single use)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import sqlalchemy as sa
from backstage_backend_plugin_api import DatabaseService
from sqlalchemy.dialects import postgresql, sqlite

from backstage_plugin_auth_backend._tables import as_utc, oauth_flows, user_info

__all__ = ["FlowStateStore", "UserInfoStore"]

Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


class UserInfoStore:
    """`user_info`: `{"claims": {sub, ent, ...}}` by user entity ref."""

    def __init__(self, database: DatabaseService, *, clock: Clock = _now) -> None:
        self._database = database
        self._clock = clock

    async def add(self, claims: Mapping[str, Any]) -> None:
        now = self._clock()
        values = {
            "user_entity_ref": claims["sub"],
            "user_info": msgspec.json.encode({"claims": dict(claims)}).decode(),
            "updated_at": now,
            "created_at": now,
        }
        async with self._database.transaction() as connection:
            insert: Any
            if connection.dialect.name == "postgresql":
                insert = postgresql.insert(user_info)
            else:
                insert = sqlite.insert(user_info)
            await connection.execute(
                insert.values(**values).on_conflict_do_update(
                    index_elements=[user_info.c.user_entity_ref],
                    set_={"user_info": values["user_info"], "updated_at": now},
                )
            )

    async def get(self, user_entity_ref: str) -> dict[str, Any] | None:
        engine = await self._database.get_engine()
        async with engine.connect() as connection:
            row = (
                await connection.execute(
                    sa.select(user_info.c.user_info).where(
                        user_info.c.user_entity_ref == user_entity_ref
                    )
                )
            ).first()
        if row is None:
            return None
        info: dict[str, Any] = msgspec.json.decode(row.user_info)
        return info


class FlowStateStore:
    """`oauth_flows`: each flow's values, taken once, within their time."""

    def __init__(self, database: DatabaseService, *, clock: Clock = _now) -> None:
        self._database = database
        self._clock = clock

    async def save(self, flow_id: str, values: Mapping[str, str], *, ttl_seconds: int) -> None:
        now = self._clock()
        async with self._database.transaction() as connection:
            # flows never completed are swept whenever a new one starts
            await connection.execute(oauth_flows.delete().where(oauth_flows.c.expires_at < now))
            await connection.execute(
                oauth_flows.insert().values(
                    id=flow_id,
                    data=msgspec.json.encode(dict(values)).decode(),
                    expires_at=now + timedelta(seconds=ttl_seconds),
                )
            )

    async def consume(self, flow_id: str) -> Mapping[str, str] | None:
        async with self._database.transaction() as connection:
            row = (
                await connection.execute(
                    oauth_flows.delete()
                    .where(oauth_flows.c.id == flow_id)
                    .returning(oauth_flows.c.data, oauth_flows.c.expires_at)
                )
            ).first()
        if row is None or as_utc(row.expires_at) <= self._clock():
            return None
        values: dict[str, str] = msgspec.json.decode(row.data, type=dict[str, str])
        return values
