"""The events plugin's Alembic revisions (PostgreSQL only, as Backstage's bus)."""
