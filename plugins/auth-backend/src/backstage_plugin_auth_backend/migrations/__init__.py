"""The auth plugin's Alembic migrations."""
