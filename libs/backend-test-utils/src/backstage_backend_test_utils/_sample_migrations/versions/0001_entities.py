"""Create entities and a log of migration runs."""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "entities", sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.Text)
    )
    op.create_table("migration_runs", sa.Column("revision", sa.Text))
    op.execute("INSERT INTO migration_runs (revision) VALUES ('0001')")


def downgrade() -> None:
    op.drop_table("migration_runs")
    op.drop_table("entities")
