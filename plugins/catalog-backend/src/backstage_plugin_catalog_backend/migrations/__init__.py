"""The catalog's Alembic migrations."""
