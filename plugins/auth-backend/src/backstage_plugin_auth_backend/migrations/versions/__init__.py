"""The auth plugin's Alembic revisions."""
