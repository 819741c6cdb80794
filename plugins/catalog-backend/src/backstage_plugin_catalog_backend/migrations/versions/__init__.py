"""The catalog's Alembic revisions, oldest first."""
