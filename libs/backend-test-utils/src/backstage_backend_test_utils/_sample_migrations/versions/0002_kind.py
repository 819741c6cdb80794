"""Add entities.kind."""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("entities", sa.Column("kind", sa.Text))
    op.execute("INSERT INTO migration_runs (revision) VALUES ('0002')")


def downgrade() -> None:
    with op.batch_alter_table("entities") as batch:
        batch.drop_column("kind")
    op.execute("DELETE FROM migration_runs WHERE revision = '0002'")
