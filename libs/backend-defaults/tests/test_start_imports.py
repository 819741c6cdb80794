"""What a backend that needs neither OpenTelemetry nor Postgres leaves unimported.

Each check runs in a fresh interpreter: the test process itself has imported both long ago.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap


def _loaded_after(script: str, prefixes: tuple[str, ...]) -> list[str]:
    """The modules starting with one of `prefixes` that `script` leaves loaded."""
    code = textwrap.dedent(script) + textwrap.dedent(
        f"""
        import sys
        print("\\n".join(sorted(m for m in sys.modules if m.startswith({prefixes!r}))))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    return result.stdout.split()


def test_telemetry_without_exporters_imports_no_opentelemetry() -> None:
    loaded = _loaded_after(
        """
        from backstage_backend_defaults.telemetry import TelemetryOptions
        from backstage_backend_defaults.telemetry._telemetry import build_telemetry

        telemetry = build_telemetry(TelemetryOptions(env={"OTEL_PROPAGATORS": "b3,baggage"}), None)
        assert not telemetry.enabled
        """,
        ("opentelemetry",),
    )
    assert loaded == []


def test_an_sqlite_database_imports_no_postgres_driver() -> None:
    loaded = _loaded_after(
        """
        import asyncio

        from backstage_backend_defaults.database import DatabaseManager
        from backstage_common.config import Config

        async def main() -> None:
            manager = DatabaseManager(Config.from_data({}))
            engine = await manager.for_plugin("catalog").get_engine()
            async with engine.connect() as connection:
                await connection.exec_driver_sql("SELECT 1")
            await engine.dispose()

        asyncio.run(main())
        """,
        ("asyncpg",),
    )
    assert loaded == []
