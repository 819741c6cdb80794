"""A two-revision Alembic history for tests of migration tooling: `0001` creates `entities`
and a `migration_runs` log, `0002` adds a column and logs itself."""

from pathlib import Path

__all__ = ["SAMPLE_MIGRATIONS"]

SAMPLE_MIGRATIONS = Path(__file__).parent / "versions"
"""The folder of the sample revisions, to hand to `database.migrate(...)` or `--migrations`."""
