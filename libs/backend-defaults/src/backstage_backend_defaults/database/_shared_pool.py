"""One Postgres pool shared by many plugins, each session confined to its plugin's schema.

A plugin gets a view of the shared engine (`engine.execution_options(...)`: same pool,
same dialect) that carries its schema. Whenever one of its sessions takes a connection
from the pool, `search_path` (and `application_name`) are set on that connection, outside
any transaction so no rollback can undo it. Setting it at every checkout, not only when it
differs, means whatever a previous session did to the connection (even its own
`SET search_path`) never reaches the next one.

Each plugin's statements also carry a `/* <schema> */` prefix. asyncpg and SQLAlchemy cache
prepared statements per connection by their text; without the prefix, the same query from
two plugins would reuse a statement prepared against the other plugin's tables, and fail
when those tables' columns differ.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["SCHEMA_OPTION", "install_schema_switch", "plugin_view"]

SCHEMA_OPTION = "backstage_schema"
"""The execution option naming the schema of a plugin's view of a shared engine."""
_PLUGIN_OPTION = "backstage_plugin"

_SWITCH = "SELECT set_config('search_path', $1, false), set_config('application_name', $2, false)"


def _on_checkout(connection: Connection) -> None:
    options = connection.get_execution_options()
    schema: str | None = options.get(SCHEMA_OPTION)
    # no schema (the shared engine itself): an empty search_path, where no table is found
    search_path = '"' + schema + '"' if schema else ""
    application = f"backstage_plugin_{options[_PLUGIN_OPTION]}" if schema else "backstage"
    dbapi_connection: Any = connection.connection.dbapi_connection

    async def switch(driver_connection: Any) -> None:
        await driver_connection.execute(_SWITCH, search_path, application)

    dbapi_connection.run_async(switch)


def _tag_statement(
    connection: Connection,
    _cursor: Any,
    statement: str,
    parameters: Any,
    _context: Any,
    _executemany: bool,
) -> tuple[str, Any]:
    schema: str | None = connection.get_execution_options().get(SCHEMA_OPTION)
    if schema:
        return f"/* {schema} */ {statement}", parameters
    return statement, parameters


def install_schema_switch(engine: AsyncEngine) -> None:
    event.listen(engine.sync_engine, "engine_connect", _on_checkout)
    event.listen(engine.sync_engine, "before_cursor_execute", _tag_statement, retval=True)


def plugin_view(engine: AsyncEngine, *, schema: str, plugin_id: str) -> AsyncEngine:
    """The shared engine (same pool) as seen by the plugin that owns `schema`."""
    return engine.execution_options(**{SCHEMA_OPTION: schema, _PLUGIN_OPTION: plugin_id})
