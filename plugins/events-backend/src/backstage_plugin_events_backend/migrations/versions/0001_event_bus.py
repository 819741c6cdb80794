"""The event bus: events and subscriptions, with read pointers (PostgreSQL only: any other
database keeps the bus in memory, as Backstage)."""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.create_table(
        "event_bus_events",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("created_at", _Timestamp, nullable=False, server_default=sa.func.now()),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("data_json", sa.Text, nullable=False),
        sa.Column(
            "notified_subscribers",
            postgresql.ARRAY(sa.Text),
            nullable=False,
            server_default="{}",
        ),
    )
    op.create_index("event_bus_events_topic_idx", "event_bus_events", ["topic"])
    op.create_table(
        "event_bus_subscriptions",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("created_at", _Timestamp, nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", _Timestamp, nullable=False, server_default=sa.func.now()),
        sa.Column("read_until", sa.BigInteger, nullable=False),
        sa.Column("topics", postgresql.ARRAY(sa.Text), nullable=False),
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_table("event_bus_subscriptions")
    op.drop_index("event_bus_events_topic_idx", "event_bus_events")
    op.drop_table("event_bus_events")
