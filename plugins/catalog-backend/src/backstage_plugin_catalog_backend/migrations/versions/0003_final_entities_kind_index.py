"""An index of final entities by the kind part of their ref, then their ref.

A list of one kind in ref order (`GET /entities?filter=kind=user`, Backstage's default
order) walks it: the refs of that kind, in order, from any keyset position.
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_POSTGRES_REF_KIND = "split_part(entity_ref, ':', 1)"
_SQLITE_REF_KIND = "substr(entity_ref, 1, instr(entity_ref, ':') - 1)"


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    kind = _POSTGRES_REF_KIND if postgres else _SQLITE_REF_KIND
    op.execute(f"CREATE INDEX final_entities_kind_ref_idx ON final_entities ({kind}, entity_ref)")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS final_entities_kind_ref_idx")
