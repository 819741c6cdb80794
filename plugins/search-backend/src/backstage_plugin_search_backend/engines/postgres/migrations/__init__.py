"""Alembic revisions of the Postgres engine (run at start, or with `backstage-py db`)."""

__all__: list[str] = []
