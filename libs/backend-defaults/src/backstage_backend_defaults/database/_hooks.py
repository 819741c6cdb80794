"""What the database service calls when something observes the plugins' databases."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from backstage_backend_defaults.instrumentation import HookPoint

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.pool import Pool

__all__ = ["DATABASE_HOOKS", "DatabaseHooks"]


class DatabaseHooks(Protocol):
    """Told of each engine and pool the database service makes, and of their closing."""

    def engine_created(
        self, engine: Engine, *, system: str, database: str, plugin_id: str | None
    ) -> None:
        """A new engine (a plugin's, a shared one, or a background pool).

        Args:
            engine: The engine (the synchronous face of the async engine).
            system: `postgresql` or `sqlite`.
            database: The logical database's name.
            plugin_id: The plugin it serves; None for a pool shared by several plugins,
                whose statements carry their plugin in the execution option
                `backstage_plugin`.
        """
        ...

    def pool_in_use(self, plugin_id: str, pool: Pool, *, shared: bool) -> None:
        """A plugin's requests pool, once the plugin has it.

        Args:
            plugin_id: The plugin.
            pool: Its pool.
            shared: Whether other plugins use the same pool.
        """
        ...

    def pools_closed(self) -> None:
        """Every engine was disposed (the backend stops)."""
        ...


DATABASE_HOOKS: HookPoint[DatabaseHooks] = HookPoint("database.engines")
"""Where database hooks are registered; the database service reads it when it is created."""
