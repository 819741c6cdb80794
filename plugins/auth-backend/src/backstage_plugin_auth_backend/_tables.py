"""The auth plugin's tables, as its migrations create them."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

__all__ = ["as_utc", "oauth_flows", "signing_keys", "user_info"]

_metadata = sa.MetaData()
_Timestamp = sa.DateTime(timezone=True)

signing_keys = sa.Table(
    "signing_keys",
    _metadata,
    sa.Column("kid", sa.String(255), primary_key=True),
    sa.Column("key", sa.Text, nullable=False),
    sa.Column("created_at", _Timestamp, nullable=False),
)

user_info = sa.Table(
    "user_info",
    _metadata,
    sa.Column("user_entity_ref", sa.String(255), primary_key=True),
    sa.Column("user_info", sa.Text, nullable=False),
    sa.Column("updated_at", _Timestamp, nullable=False),
    sa.Column("created_at", _Timestamp, nullable=False),
)

oauth_flows = sa.Table(
    "oauth_flows",
    _metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("data", sa.Text, nullable=False),
    sa.Column("expires_at", _Timestamp, nullable=False),
)


def as_utc(moment: datetime) -> datetime:
    """SQLite hands timestamps back without their zone; they were written in UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
