"""A database already at the head of its plugin's revisions costs one query at start-up;
anything else is Alembic's to migrate."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import pytest
from backstage_backend_defaults.database import (
    DatabaseManager,
    _migrations,
    migration_history,
    run_migrations,
)
from backstage_backend_defaults.database._migrations import linear_head
from backstage_backend_test_utils import SAMPLE_MIGRATIONS
from backstage_common.config import Config
from sqlalchemy import text

THIRD = '''"""Add entities.owner."""

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("entities", sa.Column("owner", sa.Text))
    op.execute("INSERT INTO migration_runs (revision) VALUES ('0003')")


def downgrade() -> None:
    pass
'''


def revision_file(folder: Path, name: str, revision: str, parent: str, extra: str = "") -> None:
    (folder / name).write_text(
        f'revision = "{revision}"\ndown_revision = {parent}\n{extra}\n'
        "def upgrade() -> None:\n    pass\n"
    )


def copy_of_samples(tmp_path: Path) -> Path:
    versions = tmp_path / "migrations" / "versions"
    shutil.copytree(SAMPLE_MIGRATIONS, versions, ignore=shutil.ignore_patterns("__pycache__"))
    return versions


def test_the_head_of_a_linear_history_is_read_from_the_files(tmp_path: Path) -> None:
    assert linear_head(SAMPLE_MIGRATIONS) == "0002"
    versions = copy_of_samples(tmp_path)
    (versions / "0003_owner.py").write_text(THIRD)  # an annotated assignment reads the same
    assert linear_head(versions) == "0003"


@pytest.mark.parametrize(
    ("name", "revision", "parent", "extra"),
    [
        ("0002_other.py", "0003", '"0001"', ""),  # a second child of 0001: two heads
        ("0003_merge.py", "0003", '("0001", "0002")', ""),  # a merge
        ("0003_dep.py", "0003", '"0002"', 'depends_on = "0001"'),
        ("0003_label.py", "0003", '"0002"', 'branch_labels = ("x",)'),
        ("0003_computed.py", "0003", 'str("0002")', ""),  # not a literal
        ("0003_again.py", "0002", '"0001"', ""),  # the same revision twice
    ],
)
def test_any_other_history_is_left_to_alembic(
    tmp_path: Path, name: str, revision: str, parent: str, extra: str
) -> None:
    versions = copy_of_samples(tmp_path)
    revision_file(versions, name, revision, parent, extra)
    assert linear_head(versions) is None


async def _runs(manager: DatabaseManager) -> list[str]:
    engine = await manager.for_plugin("catalog").get_engine()
    async with engine.connect() as connection:
        rows = await connection.execute(text("SELECT revision FROM migration_runs ORDER BY 1"))
        return [row[0] for row in rows]


async def _restarts_at_head_then_upgrade(database: dict[str, Any], tmp_path: Path) -> None:
    manager = DatabaseManager(Config.from_data({"backend": {"database": database}}))
    try:
        catalog = manager.for_plugin("catalog")
        versions = copy_of_samples(tmp_path)
        assert await run_migrations(catalog, versions, plugin_id="catalog") is True
        assert await run_migrations(catalog, versions, plugin_id="catalog") is True  # at head
        assert await _runs(manager) == ["0001", "0002"]
        (versions / "0003_owner.py").write_text(THIRD)  # a release with one more revision
        assert await run_migrations(catalog, versions, plugin_id="catalog") is True
        assert await _runs(manager) == ["0001", "0002", "0003"]
        history = await migration_history(catalog, versions)
        assert history == [("0001", True), ("0002", True), ("0003", True)]
    finally:
        await manager.close()


async def test_a_database_at_head_is_left_alone_and_a_new_revision_applied_on_sqlite(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "db"
    directory.mkdir()
    database = {"client": "sqlite3", "connection": {"directory": str(directory)}}
    await _restarts_at_head_then_upgrade(database, tmp_path)


async def test_a_database_at_head_is_left_alone_and_a_new_revision_applied_on_postgres(
    postgres: tuple[dict[str, Any], str], tmp_path: Path
) -> None:
    connection, prefix = postgres
    database = {"client": "pg", "connection": connection, "prefix": prefix}
    await _restarts_at_head_then_upgrade(database, tmp_path)


async def test_a_replica_that_waited_for_the_lock_finds_the_head_and_leaves_alembic_alone(
    postgres: tuple[dict[str, Any], str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers started together on a new database: one migrates, each other one waits for
    its lock, then finds the head without running (or importing) Alembic."""
    connection, prefix = postgres
    config = {"backend": {"database": {"client": "pg", "connection": connection, "prefix": prefix}}}
    first = DatabaseManager(Config.from_data(config))
    second = DatabaseManager(Config.from_data(config))
    alembic_runs: list[str] = []
    real_run = _migrations._run

    def counted_run(*args: Any) -> None:
        alembic_runs.append("run")
        real_run(*args)

    monkeypatch.setattr(_migrations, "_run", counted_run)
    versions = copy_of_samples(tmp_path)
    try:
        holder = await (await first.for_plugin("catalog").get_engine()).connect()
        key = {"k": _migrations._lock_key("catalog")}
        await holder.execute(text("SELECT pg_advisory_lock(:k)"), key)
        await holder.commit()
        waiting = asyncio.create_task(
            run_migrations(second.for_plugin("catalog"), versions, plugin_id="catalog")
        )
        await asyncio.sleep(0.3)
        assert not waiting.done()  # it waits for the lock
        # the replica that holds the lock migrates meanwhile
        await holder.run_sync(lambda sync: real_run(sync, versions, _upgrade_to_head))
        await holder.commit()
        await holder.execute(text("SELECT pg_advisory_unlock(:k)"), key)
        await holder.commit()
        await holder.close()
        assert await asyncio.wait_for(waiting, 30) is True
        assert alembic_runs == []
        assert await _runs(second) == ["0001", "0002"]
    finally:
        await first.close()
        await second.close()


def _upgrade_to_head(script: Any, revision: Any) -> Any:
    return script._upgrade_revs("head", revision)
