"""Reading `backend.database` for one plugin, with Backstage's per-plugin overrides."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from backstage_backend_plugin_api import RootConfigService
from backstage_common.errors import InputError

__all__ = ["PluginDatabaseSettings", "read_plugin_settings"]

_PG = ("pg", "postgres", "postgresql")
_SQLITE = ("better-sqlite3", "sqlite3")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class PluginDatabaseSettings:
    plugin_id: str
    client: Literal["pg", "sqlite"]
    connection: dict[str, Any] = field(default_factory=dict)
    """pg: host, port, user, password, database, ssl; sqlite: filename or directory."""
    division: Literal["database", "schema"] = "database"
    database_name: str | None = None
    """pg: the logical database of this plugin (database mode) or the shared one (schema)."""
    schema: str | None = None
    ensure_exists: bool = True
    skip_migrations: bool = False
    pool_size: int = 5

    def describe(self) -> str:
        """Where the database is, never with its password."""
        if self.client == "sqlite":
            return f"sqlite {self.connection.get('filename', ':memory:')}"
        host = self.connection.get("host", "localhost")
        return f"postgres {host}:{self.connection.get('port', 5432)}/{self.database_name}"


def _parse_connection(value: Any, client: str, key: str) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, dict):
        return dict(value)
    if not isinstance(value, str):
        raise InputError(f"Invalid {key}: use a connection string or an object")
    if client == "sqlite":
        return {"filename": value}
    parts = urlsplit(value)
    if parts.scheme not in ("postgres", "postgresql"):
        raise InputError(f"Invalid {key}: use postgresql://user:password@host:port/database")
    parsed: dict[str, Any] = {"host": parts.hostname or "localhost", "port": parts.port or 5432}
    if parts.username:
        parsed["user"] = unquote(parts.username)
    if parts.password:
        parsed["password"] = unquote(parts.password)
    if parts.path.strip("/"):
        parsed["database"] = unquote(parts.path.strip("/"))
    return parsed


def _client(value: str | None, key: str) -> Literal["pg", "sqlite"]:
    if value is None or value in _SQLITE:
        return "sqlite"
    if value in _PG:
        return "pg"
    raise InputError(f"Unsupported database client '{value}' in {key}, use pg or better-sqlite3")


def read_plugin_settings(config: RootConfigService, plugin_id: str) -> PluginDatabaseSettings:
    """Backstage's resolution: the plugin's `client` and `connection` override the base ones;
    a plugin that changes client does not inherit the base connection."""
    base = "backend.database"
    own = f"{base}.plugin.{plugin_id}"
    base_client = _client(config.get_optional_string(f"{base}.client"), f"{base}.client")
    own_client_name = config.get_optional_string(f"{own}.client")
    client = _client(own_client_name, f"{own}.client") if own_client_name else base_client
    connection: dict[str, Any] = {}
    if client == base_client:
        connection = _parse_connection(
            config.get_optional(f"{base}.connection"), client, f"{base}.connection"
        )
    connection.update(
        _parse_connection(config.get_optional(f"{own}.connection"), client, f"{own}.connection")
    )
    if not connection and client == "sqlite":
        connection = {"filename": ":memory:"}

    def flag(name: str, default: bool) -> bool:
        value = config.get_optional_boolean(f"{own}.{name}")
        if value is None:
            value = config.get_optional_boolean(f"{base}.{name}")
        return default if value is None else value

    division = config.get_optional_string(f"{base}.pluginDivisionMode") or "database"
    if division not in ("database", "schema"):
        raise InputError(f"Invalid {base}.pluginDivisionMode '{division}', use database or schema")
    pool = config.get_optional_number(f"{own}.pool.max") or config.get_optional_number(
        f"{base}.pool.max"
    )
    settings = PluginDatabaseSettings(
        plugin_id=plugin_id,
        client=client,
        connection=connection,
        division="schema" if division == "schema" and client == "pg" else "database",
        ensure_exists=flag("ensureExists", True),
        skip_migrations=flag("skipMigrations", False),
        pool_size=int(pool) if pool else 5,
    )
    if client == "sqlite":
        return settings
    prefix = config.get_optional_string(f"{base}.prefix") or "backstage_plugin_"
    own_database = config.get_optional_string(f"{own}.connection.database")
    if settings.division == "schema":
        schema = (config.get_optional_string(f"{base}.schemaPrefix") or "") + plugin_id
        schema = schema.replace("-", "_")
        if not _IDENTIFIER.match(schema) or len(schema.encode()) > 63:
            raise InputError(f"Invalid schema name '{schema}' for plugin '{plugin_id}'")
        return PluginDatabaseSettings(
            **{
                **settings.__dict__,
                "database_name": connection.get("database") or "postgres",
                "schema": schema,
            }
        )
    name = own_database or f"{prefix}{plugin_id}"
    return PluginDatabaseSettings(**{**settings.__dict__, "database_name": name})
