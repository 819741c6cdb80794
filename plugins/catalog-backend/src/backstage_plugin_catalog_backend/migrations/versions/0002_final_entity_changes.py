"""Postgres only: a change counter for final entities and their search rows.

Every statement that writes `final_entities` or `search` draws a number from the
`final_entity_changes` sequence. Sequences are not transactional: the number moves when the
statement runs, before its transaction commits, and every connection sees it at once. A
reader that notes the counter, reads, and notes it again knows whether anything was written
meanwhile; results read while it stood still can be reused until it moves (the entity
facets do this).
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_TABLES = ("final_entities", "search")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE SEQUENCE final_entity_changes")
    op.execute(
        "CREATE FUNCTION count_final_entity_change() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN PERFORM nextval(format('%I.final_entity_changes', TG_TABLE_SCHEMA)); "
        "RETURN NULL; END $$"
    )
    for table in _TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
            f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION count_final_entity_change()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in _TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_changed ON {table}")
    op.execute("DROP FUNCTION IF EXISTS count_final_entity_change()")
    op.execute("DROP SEQUENCE IF EXISTS final_entity_changes")
