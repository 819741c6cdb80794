"""`backstage-py db ...`: one plugin's migrations, run by hand."""

from __future__ import annotations

import asyncio
from importlib.metadata import entry_points
from importlib.resources import as_file, files
from pathlib import Path

import click
from backstage_backend_defaults.database import DatabaseManager, migration_history, run_migrations
from backstage_common.config import load_config
from backstage_common.errors import BackstageError, InputError

from backstage_cli._project import config_paths_for_unit

__all__ = ["MIGRATIONS_ENTRY_POINT_GROUP", "db", "find_migrations"]

MIGRATIONS_ENTRY_POINT_GROUP = "backstage.migrations"


def find_migrations(plugin_id: str) -> Path:
    """The folder of Alembic revisions a plugin registers under `backstage.migrations`
    (`<pluginId> = "<package holding the revision files>"`)."""
    for ep in entry_points(group=MIGRATIONS_ENTRY_POINT_GROUP):
        if ep.name == plugin_id:
            with as_file(files(ep.value)) as folder:
                return Path(folder)
    raise InputError(
        f"Plugin '{plugin_id}' registers no migrations (entry point group "
        f"'{MIGRATIONS_ENTRY_POINT_GROUP}'); pass --migrations FOLDER"
    )


def _run(configs: tuple[Path, ...], plugin_id: str, migrations: Path | None, action: str,
         target: str) -> None:  # fmt: skip
    async def work() -> None:
        folder = migrations or find_migrations(plugin_id)
        config = load_config(config_paths_for_unit("all", configs))
        manager = DatabaseManager(config)
        database = manager.for_plugin(plugin_id)
        try:
            if action == "history":
                for revision, applied in await migration_history(database, folder):
                    click.echo(f"{revision} {'applied' if applied else 'pending'}")
                return
            ran = await run_migrations(
                database, folder, plugin_id=plugin_id, target=target,
                downgrade=action == "downgrade",
            )  # fmt: skip
            click.echo(
                f"{plugin_id}: {action} to {target} done" if ran else
                f"{plugin_id}: skipMigrations is set, nothing ran"
            )  # fmt: skip
        finally:
            await manager.close()

    try:
        asyncio.run(work())
    except BackstageError as error:
        raise click.ClickException(str(error)) from error


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
    """A plugin's database migrations (Alembic), against that plugin's database only."""


@db.command()
@_plugin
@_config
@_migrations
@click.option("--to", "target", default="head", show_default=True, help="Target revision.")
def upgrade(
    plugin_id: str, configs: tuple[Path, ...], migrations: Path | None, target: str
) -> None:
    """Apply the plugin's migrations up to a revision (under the migration lock)."""
    _run(configs, plugin_id, migrations, "upgrade", target)


@db.command()
@_plugin
@_config
@_migrations
@click.option("--to", "target", required=True, help="Target revision, or 'base'.")
def downgrade(
    plugin_id: str, configs: tuple[Path, ...], migrations: Path | None, target: str
) -> None:
    """Revert the plugin's migrations down to a revision."""
    _run(configs, plugin_id, migrations, "downgrade", target)


@db.command()
@_plugin
@_config
@_migrations
def history(plugin_id: str, configs: tuple[Path, ...], migrations: Path | None) -> None:
    """List the plugin's revisions, oldest first, applied or pending."""
    _run(configs, plugin_id, migrations, "history", "head")
