"""The Postgres engine's tables: documents and their terms by generation, and the live
generation per type."""

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
          PRIMARY KEY (generation, position)
        )
        """
    )
    # What queries scan, apart from the documents, so that a scan reads narrow rows.
    op.execute(
        """
        CREATE TABLE search_terms (
          generation bigint NOT NULL,
          position integer NOT NULL,
          type text NOT NULL,
          body tsvector NOT NULL,
          filter_document jsonb NOT NULL,
          PRIMARY KEY (generation, position)
        )
        """
    )
    op.execute("CREATE INDEX search_terms_body_index ON search_terms USING GIN (body)")
    op.execute(
        "CREATE INDEX search_terms_filter_index"
        " ON search_terms USING GIN (filter_document jsonb_path_ops)"
    )
    op.execute("CREATE INDEX search_terms_type_index ON search_terms (type, generation)")
    op.execute("CREATE INDEX search_documents_type_index ON search_documents (type, generation)")
    # Title weighs A, text B, every other string value C (`english` stemming).
    op.execute(
        """
        CREATE FUNCTION search_document_body(document jsonb) RETURNS tsvector
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
          SELECT setweight(to_tsvector('english', coalesce(document->>'title', '')), 'A')
          || setweight(to_tsvector('english', coalesce(document->>'text', '')), 'B')
          || setweight(
            to_tsvector('english', document - 'location' - 'title' - 'text' - 'authorization'),
            'C'
          )
        $$
        """
    )
    # Filters compare lowercased values: the document minus its free text, lowercased.
    op.execute(
        """
        CREATE FUNCTION search_filter_document(document jsonb) RETURNS jsonb
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
          SELECT lower((document - 'title' - 'text' - 'location' - 'authorization')::text)::jsonb
        $$
        """
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION search_filter_document(jsonb)")
    op.execute("DROP FUNCTION search_document_body(jsonb)")
    op.execute("DROP TABLE search_terms")
    op.execute("DROP TABLE search_documents")
    op.execute("DROP TABLE search_indices")
    op.execute("DROP SEQUENCE search_generations")
