"""The revision files; Alembic skips this module."""

__all__: list[str] = []
