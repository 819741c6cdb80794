"""The Postgres engine's tables: documents by generation, and the live generation per type."""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE SEQUENCE search_generations")
    op.execute(
        """
        CREATE TABLE search_indices (
          type text PRIMARY KEY,
          generation bigint NOT NULL,
          document_count integer NOT NULL,
          indexed_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute(
        """
        CREATE TABLE search_documents (
          generation bigint NOT NULL,
          position integer NOT NULL,
          type text NOT NULL,
          document jsonb NOT NULL,
          body tsvector GENERATED ALWAYS AS (
            setweight(to_tsvector('english', coalesce(document->>'title', '')), 'A')
            || setweight(to_tsvector('english', coalesce(document->>'text', '')), 'B')
            || setweight(
              to_tsvector(
                'english', document - 'location' - 'title' - 'text' - 'authorization'
              ),
              'C'
            )
          ) STORED,
          filter_document jsonb GENERATED ALWAYS AS (
            lower((document - 'title' - 'text' - 'location' - 'authorization')::text)::jsonb
          ) STORED,
          PRIMARY KEY (generation, position)
        )
        """
    )
    op.execute("CREATE INDEX search_documents_body_index ON search_documents USING GIN (body)")
    op.execute(
        "CREATE INDEX search_documents_filter_index"
        " ON search_documents USING GIN (filter_document jsonb_path_ops)"
    )
    op.execute("CREATE INDEX search_documents_type_index ON search_documents (type, generation)")


def downgrade() -> None:
    op.execute("DROP TABLE search_documents")
    op.execute("DROP TABLE search_indices")
    op.execute("DROP SEQUENCE search_generations")
