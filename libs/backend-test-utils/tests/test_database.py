"""The database fake: a private in-memory SQLite database per plugin."""

from __future__ import annotations

from pathlib import Path

import pytest
from backstage_backend_defaults import BackendFeature
from backstage_backend_plugin_api import PluginRegistrationPoints, create_backend_plugin
from backstage_backend_plugin_api import core_services as core
from backstage_backend_test_utils import mock_services, start_test_backend
from backstage_common.errors import ConflictError
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError


async def test_the_database_lives_as_long_as_its_engine() -> None:
    database = mock_services.database("one")
    assert database.migrations.skip is False
    engine = await database.get_engine()
    assert await database.get_engine() is engine
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE items (name TEXT)"))
        await connection.execute(text("INSERT INTO items VALUES ('a')"))
    sessions = await database.get_session_factory()
    async with sessions() as session:
        assert (await session.execute(text("SELECT name FROM items"))).scalars().all() == ["a"]
    await database.dispose()
    with pytest.raises(ConflictError, match="disposed"):
        await database.get_engine()


async def test_two_databases_are_separate() -> None:
    one, two = mock_services.database("one"), mock_services.database("two")
    try:
        for database in (one, two):
            async with (await database.get_engine()).begin() as connection:
                await connection.execute(text("CREATE TABLE items (name TEXT)"))
        async with (await one.get_engine()).begin() as connection:
            await connection.execute(text("INSERT INTO items VALUES ('only in one')"))
        async with (await two.get_engine()).connect() as connection:
            count = (await connection.execute(text("SELECT count(*) FROM items"))).scalar_one()
        assert count == 0
    finally:
        await one.dispose()
        await two.dispose()


async def test_foreign_keys_are_enforced() -> None:
    database = mock_services.database()
    try:
        async with (await database.get_engine()).begin() as connection:
            await connection.execute(text("CREATE TABLE parent (id INTEGER PRIMARY KEY)"))
            await connection.execute(
                text("CREATE TABLE child (parent_id INTEGER REFERENCES parent(id))")
            )
        with pytest.raises(IntegrityError):
            async with (await database.get_engine()).begin() as connection:
                await connection.execute(text("INSERT INTO child VALUES (42)"))
    finally:
        await database.dispose()


async def test_the_factory_gives_each_plugin_its_own_database_and_disposes_them() -> None:
    plugins = []
    for plugin_id in ("one", "two"):

        def register(reg: PluginRegistrationPoints, plugin_id: str = plugin_id) -> None:
            async def init(database: core.Database) -> None:
                async with (await database.get_engine()).begin() as connection:
                    await connection.execute(text("CREATE TABLE items (name TEXT)"))
                    if plugin_id == "one":
                        await connection.execute(text("INSERT INTO items VALUES ('x')"))

            reg.register_init(init)

        plugins.append(create_backend_plugin(plugin_id=plugin_id, register=register))
    factory = mock_services.database_factory(skip_migrations=True)
    features: list[BackendFeature] = [*plugins, factory]
    async with start_test_backend(features=features) as test:
        one = await test.get_service(core.database, "one")
        two = await test.get_service(core.database, "two")
        assert one is not two
        assert one.migrations.skip is True
        async with (await two.get_engine()).connect() as connection:
            count = (await connection.execute(text("SELECT count(*) FROM items"))).scalar_one()
        assert count == 0
        async with (await one.get_engine()).connect() as connection:
            count = (await connection.execute(text("SELECT count(*) FROM items"))).scalar_one()
        assert count == 1
    with pytest.raises(ConflictError, match="disposed"):
        await one.get_engine()


REVISION = """
from alembic import op
import sqlalchemy as sa

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table("items", sa.Column("name", sa.Text()))


def downgrade() -> None:
    op.drop_table("items")
"""


async def test_migrate_and_transactions_work_as_on_the_real_service(tmp_path: Path) -> None:
    versions = tmp_path / "versions"
    versions.mkdir()
    (versions / "0001_items.py").write_text(REVISION)
    skipped = mock_services.database("skipped", skip_migrations=True)
    database = mock_services.database("one")
    try:
        assert await skipped.migrate(versions) is False
        assert await database.migrate(versions) is True
        async with database.transaction() as connection:
            await connection.execute(text("INSERT INTO items VALUES ('a')"))

        async def fail_half_way() -> None:
            async with database.transaction(purpose="background") as connection:
                await connection.execute(text("INSERT INTO items VALUES ('b')"))
                await connection.execute(text("INSERT INTO nowhere VALUES (1)"))

        with pytest.raises(OperationalError, match="no such table"):
            await fail_half_way()
        async with (await database.get_engine()).connect() as connection:
            names = (await connection.execute(text("SELECT name FROM items"))).scalars().all()
        assert names == ["a"]
    finally:
        await skipped.dispose()
        await database.dispose()
