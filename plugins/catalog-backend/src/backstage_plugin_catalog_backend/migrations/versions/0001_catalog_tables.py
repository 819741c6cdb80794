"""The catalog's tables: refresh state, references, relations, final entities, the search
index, refresh keys, registered locations and the stitch queue."""

from alembic import op
from backstage_plugin_catalog_backend._tables import metadata

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    metadata.create_all(op.get_bind())


def downgrade() -> None:
    metadata.drop_all(op.get_bind())
