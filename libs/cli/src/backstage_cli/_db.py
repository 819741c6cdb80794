"""`backstage-py db ...`: plugins' migrations, run by hand."""

from __future__ import annotations

import asyncio
import dataclasses
from importlib.metadata import entry_points
from importlib.resources import as_file, files
from pathlib import Path

import click
from backstage_backend_defaults.database import (
    DatabaseManager,
    PluginDatabase,
    migration_history,
    migration_revisions,
    read_plugin_settings,
    run_migrations,
)
from backstage_common.config import Config, load_config
from backstage_common.errors import BackstageError, InputError

from backstage_cli._project import config_paths_for_unit

__all__ = ["MIGRATIONS_ENTRY_POINT_GROUP", "db", "find_migrations", "registered_migrations"]

MIGRATIONS_ENTRY_POINT_GROUP = "backstage.migrations"
# Postgres' "invalid_catalog_name": the plugin's database does not exist (yet)
_NO_SUCH_DATABASE = "3D000"


def registered_migrations() -> dict[str, str]:
    """Plugin id -> the package of Alembic revisions it registers under `backstage.migrations`."""
    found = entry_points(group=MIGRATIONS_ENTRY_POINT_GROUP)
    return {ep.name: ep.value for ep in sorted(found, key=lambda ep: ep.name)}


def find_migrations(plugin_id: str) -> Path:
    """The folder of Alembic revisions a plugin registers under `backstage.migrations`
    (`<pluginId> = "<package holding the revision files>"`)."""
    package = registered_migrations().get(plugin_id)
    if package is None:
        raise InputError(
            f"Plugin '{plugin_id}' registers no migrations (entry point group "
            f"'{MIGRATIONS_ENTRY_POINT_GROUP}'); pass --migrations FOLDER"
        )
    with as_file(files(package)) as folder:
        return Path(folder)


def _missing_database(error: BaseException) -> bool:
    seen: BaseException | None = error
    while seen is not None:
        for candidate in (seen, getattr(seen, "orig", None)):
            if getattr(candidate, "sqlstate", None) == _NO_SUCH_DATABASE:
                return True
        seen = seen.__cause__ or seen.__context__
    return False


async def _history(manager: DatabaseManager, config: Config, plugin_id: str, folder: Path
                   ) -> list[tuple[str, bool]]:  # fmt: skip
    """The plugin's revisions and whether each is applied, read without creating anything:
    no database (or schema, or SQLite file) is made for it, and a missing one has every
    revision pending."""
    settings = dataclasses.replace(read_plugin_settings(config, plugin_id), ensure_exists=False)
    database = PluginDatabase(manager, settings)
    directory = settings.connection.get("directory")
    sqlite_file = Path(directory) / f"{plugin_id}.sqlite" if directory is not None else None
    if settings.client == "sqlite" and (sqlite_file is None or not sqlite_file.exists()):
        # in memory, or a file not made yet: opening it would create it
        return _pending(folder)
    try:
        return await migration_history(database, folder)
    except Exception as error:
        if not _missing_database(error):
            raise
        return _pending(folder)


def _pending(folder: Path) -> list[tuple[str, bool]]:
    return [(revision, False) for revision in migration_revisions(folder)]


def _run(configs: tuple[Path, ...], plugin_ids: list[str], migrations: Path | None,
         action: str, target: str) -> None:  # fmt: skip
    async def work() -> None:
        config = load_config(config_paths_for_unit("all", configs))
        manager = DatabaseManager(config)
        try:
            for plugin_id in plugin_ids:
                try:
                    await _one(manager, config, plugin_id)
                except BackstageError as error:
                    if len(plugin_ids) == 1:
                        raise
                    raise click.ClickException(f"{plugin_id}: {error}") from error
                except Exception as error:
                    # the driver's first line: enough to tell which plugin and why
                    first = str(error).splitlines()[0] if str(error) else type(error).__name__
                    raise click.ClickException(f"{plugin_id}: {action} failed: {first}") from error
        finally:
            await manager.close()

    async def _one(manager: DatabaseManager, config: Config, plugin_id: str) -> None:
        folder = migrations or find_migrations(plugin_id)
        if action == "history":
            for revision, applied in await _history(manager, config, plugin_id, folder):
                click.echo(f"{revision} {'applied' if applied else 'pending'}")
            return
        ran = await run_migrations(
            manager.for_plugin(plugin_id), folder, plugin_id=plugin_id, target=target,
            downgrade=action == "downgrade",
        )  # fmt: skip
        click.echo(
            f"{plugin_id}: {action} to {target} done" if ran else
            f"{plugin_id}: skipMigrations is set, nothing ran"
        )  # fmt: skip

    try:
        asyncio.run(work())
    except BackstageError as error:
        raise click.ClickException(str(error)) from error


def _plugins(plugin_id: str | None, every: bool, migrations: Path | None) -> list[str]:
    if every == (plugin_id is not None):
        raise click.UsageError("Pass either --plugin ID or --all")
    if every and migrations is not None:
        raise click.UsageError("--migrations names one plugin's revisions: use it with --plugin")
    if plugin_id is not None:
        return [plugin_id]
    return list(registered_migrations())


_plugin = click.option("--plugin", "plugin_id", required=True, help="The plugin id.")
_config = click.option(
    "--config", "configs", multiple=True, type=click.Path(path_type=Path),
    help="Config files, as for `start` (default: the `all` unit's list).",
)  # fmt: skip
_migrations = click.option(
    "--migrations", type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="The folder of revision files (default: what the plugin registers).",
)  # fmt: skip


@click.group()
def db() -> None:
    """Plugins' database migrations (Alembic), each against that plugin's database only."""


@db.command()
@click.option("--plugin", "plugin_id", help="The plugin id.")
@click.option(
    "--all", "every", is_flag=True,
    help="Every plugin that registers migrations (`backstage.migrations`), one after another.",
)  # fmt: skip
@_config
@_migrations
@click.option("--to", "target", default="head", show_default=True, help="Target revision.")
def upgrade(plugin_id: str | None, every: bool, configs: tuple[Path, ...],
            migrations: Path | None, target: str) -> None:  # fmt: skip
    """Apply a plugin's migrations (or every plugin's, with --all) up to a revision, under
    the migration lock."""
    plugins = _plugins(plugin_id, every, migrations)
    if every and target != "head":
        raise click.UsageError(
            "--all upgrades every plugin to head; --to names one plugin's revision"
        )
    _run(configs, plugins, migrations, "upgrade", target)


@db.command()
@_plugin
@_config
@_migrations
@click.option("--to", "target", required=True, help="Target revision, or 'base'.")
def downgrade(
    plugin_id: str, configs: tuple[Path, ...], migrations: Path | None, target: str
) -> None:
    """Revert the plugin's migrations down to a revision."""
    _run(configs, [plugin_id], migrations, "downgrade", target)


@db.command()
@_plugin
@_config
@_migrations
def history(plugin_id: str, configs: tuple[Path, ...], migrations: Path | None) -> None:
    """List the plugin's revisions, oldest first, applied or pending. Reads only: a plugin
    database that does not exist yet is not created (every revision is then pending)."""
    _run(configs, [plugin_id], migrations, "history", "head")
