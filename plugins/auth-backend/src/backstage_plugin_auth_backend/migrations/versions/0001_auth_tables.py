"""The auth plugin's tables: signing keys, user info and the OAuth flows in progress."""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(255), primary_key=True),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("created_at", _Timestamp, nullable=False, server_default=sa.func.now()),
    )
    op.create_table(
        "user_info",
        sa.Column("user_entity_ref", sa.String(255), primary_key=True),
        sa.Column("user_info", sa.Text, nullable=False),
        sa.Column("updated_at", _Timestamp, nullable=False),
        sa.Column("created_at", _Timestamp, nullable=False, server_default=sa.func.now()),
    )
    op.create_table(
        "oauth_flows",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("expires_at", _Timestamp, nullable=False),
    )
    op.create_index("ix_oauth_flows_expires_at", "oauth_flows", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_oauth_flows_expires_at", "oauth_flows")
    op.drop_table("oauth_flows")
    op.drop_table("user_info")
    op.drop_table("signing_keys")
