"""`backend.workers`: how many processes serve a unit, and the role of each."""

from __future__ import annotations

from collections.abc import Callable

from backstage_common.config import Config
from backstage_common.errors import InputError
from backstage_common.worker_role import WorkerRole, read_worker_role

from backstage_cli._cpus import available_cpus

__all__ = ["WORKERS_KEY", "read_worker_count", "worker_roles"]

WORKERS_KEY = "backend.workers"
_SQLITE = ("better-sqlite3", "sqlite3")


def _on_sqlite(config: Config) -> bool:
    """Whether a plugin database of this config is SQLite (the default), which a process
    keeps to itself (in memory) or takes one writer at a time (a file)."""
    if config.get_optional_string("backend.database.client") in (None, *_SQLITE):
        return True
    plugins = config.get_optional_config("backend.database.plugin")
    if plugins is None:
        return False
    return any(
        plugins.get_optional_string(f"{plugin}.client") in _SQLITE for plugin in plugins.keys()
    )


def read_worker_count(config: Config, cpus: Callable[[], int] = available_cpus) -> int:
    """`backend.workers`: an integer of at least 1, or `auto` (the default): `cpus()`, the
    CPUs this process may use, when the plugins' databases are Postgres, else 1 (an SQLite
    database is not shared across processes). An `InputError` for any other value, and
    for more than one worker on SQLite."""
    value = config.get_optional(WORKERS_KEY)
    if value is None or value == "auto":
        return 1 if _on_sqlite(config) else cpus()
    count: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        count = value
    elif isinstance(value, str) and value.strip().isdigit():
        count = int(value)
    if count is None or count < 1:
        raise InputError(f"Invalid '{WORKERS_KEY}' {value!r}, use an integer of at least 1 or auto")
    if count > 1 and _on_sqlite(config):
        raise InputError(
            f"'{WORKERS_KEY}' {count} needs Postgres (backend.database.client: pg): "
            "workers share their plugins' databases, and SQLite is not shared across processes"
        )
    return count


def worker_roles(config: Config, count: int) -> list[WorkerRole]:
    """The roles of a unit's `count` workers: for the role `all` (the default), `count`
    serving workers and one background worker; for `serve` or `background` (a unit that
    does only that part), `count` workers of that role."""
    role = read_worker_role(config)
    if role == "all":
        serving: list[WorkerRole] = ["serve"] * count
        return [*serving, "background"]
    return [role] * count
