"""`backstage-py --version`, `config check`, `config print`, `db upgrade --all`, and a
`db history` that never creates a database."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import yaml
from backstage_backend_test_utils import SAMPLE_MIGRATIONS, postgres_database_config
from backstage_cli import main
from backstage_cli._db import registered_migrations
from click.testing import CliRunner, Result

TOPOLOGY = Path(__file__).resolve().parents[3] / "deploy" / "topology.yaml"
BACKSTAGE_PY = [sys.executable, "-m", "backstage_cli"]


def _write(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data))
    return path


async def _invoke(args: list[str]) -> Result:
    """The command, in a thread: it runs an event loop of its own."""
    return await asyncio.to_thread(CliRunner().invoke, main, args)


def _wait_ready(base: str, process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the unit exited early"
        try:
            if httpx.get(f"{base}/.backstage/health/v1/readiness").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError("the unit never became ready")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_version_names_the_command_and_its_version() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output.startswith("backstage-py, version ")


def test_config_check_passes_a_valid_config(tmp_path: Path) -> None:
    config = _write(tmp_path / "a.yaml", {"backend": {"baseUrl": "http://x", "listen": 7007}})
    result = CliRunner().invoke(main, ["config", "check", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "The config is valid (0 warning(s))" in result.output


def test_config_check_warns_of_an_unknown_key_with_the_closest_known_one(tmp_path: Path) -> None:
    config = _write(tmp_path / "a.yaml", {"backend": {"baseUrl": "http://x", "lisen": 7007}})
    result = CliRunner().invoke(main, ["config", "check", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert (
        f"warning: Unknown config key 'backend.lisen' in '{config}', did you mean 'backend.listen'?"
    ) in result.output


def test_config_check_fails_on_a_wrong_type_naming_the_key_and_file(tmp_path: Path) -> None:
    base = _write(tmp_path / "base.yaml", {"backend": {"baseUrl": "http://x"}})
    override = _write(
        tmp_path / "override.yaml",
        {"backend": {"listen": {"port": "seventy"}}, "catalog": {"readonly": "sometimes"}},
    )
    result = CliRunner().invoke(
        main, ["config", "check", "--config", str(base), "--config", str(override)]
    )
    assert result.exit_code == 1
    assert f"error: Config value for key 'backend.listen.port' in '{override}'" in result.output
    assert f"Config value for key 'catalog.readonly' in '{override}'" in result.output


def test_config_print_masks_secrets(tmp_path: Path) -> None:
    config = _write(
        tmp_path / "a.yaml",
        {
            "backend": {
                "baseUrl": "http://x",
                "database": {"client": "pg", "connection": {"host": "db", "password": "hunter2"}},
                "cache": {"store": "redis", "connection": "redis://:cachepw@cache:6379"},
                "auth": {
                    "externalAccess": [
                        {"type": "static", "options": {"token": "tok-123", "subject": "ci"}}
                    ]
                },
            }
        },
    )
    runner = CliRunner()
    as_yaml = runner.invoke(main, ["config", "print", "--config", str(config)])
    as_json = runner.invoke(main, ["config", "print", "--config", str(config), "--format", "json"])
    assert as_yaml.exit_code == 0, as_yaml.output
    for secret in ("hunter2", "cachepw", "tok-123"):
        assert secret not in as_yaml.output
        assert secret not in as_json.output
    printed = json.loads(as_json.output)["backend"]
    assert printed["database"]["connection"] == {"host": "db", "password": "<secret>"}
    assert printed["cache"]["connection"] == "<secret>"
    assert printed["auth"]["externalAccess"][0]["options"] == {
        "token": "<secret>",
        "subject": "ci",
    }
    assert yaml.safe_load(as_yaml.output)["backend"]["baseUrl"] == "http://x"


def test_start_stops_on_a_wrong_type_and_warns_of_an_unknown_key(tmp_path: Path) -> None:
    port = _free_port()
    base = {
        "backend": {
            "baseUrl": f"http://127.0.0.1:{port}",
            "listen": {"host": "127.0.0.1", "port": port},
            "logging": {"format": "json"},
            "auth": {"dangerouslyDisableDefaultAuthPolicy": True},
        }
    }
    wrong = _write(tmp_path / "wrong.yaml", {**base, "catalog": {"readonly": "sometimes"}})
    failed = subprocess.run(
        [*BACKSTAGE_PY, "start", "--unit", "catalog", "--topology", str(TOPOLOGY),
         "--config", str(wrong)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert failed.returncode != 0
    assert f"'catalog.readonly' in '{wrong}'" in failed.stderr + failed.stdout

    typo = _write(tmp_path / "typo.yaml", {**base, "catalog": {"readOnly": True}})
    log = tmp_path / "unit.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [*BACKSTAGE_PY, "start", "--unit", "catalog", "--topology", str(TOPOLOGY),
             "--config", str(typo)],
            stdout=output, stderr=subprocess.STDOUT, cwd=tmp_path,
        )  # fmt: skip
        try:
            _wait_ready(f"http://127.0.0.1:{port}", process)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
    lines = log.read_text().splitlines()
    warnings = [json.loads(line) for line in lines if '"configSchema"' in line]
    assert [entry["message"] for entry in warnings] == [
        f"Unknown config key 'catalog.readOnly' in '{typo}', did you mean 'catalog.readonly'?"
    ]
    assert warnings[0]["level"] == "warn"


async def test_db_upgrade_all_migrates_every_registered_plugin(tmp_path: Path) -> None:
    async with postgres_database_config("upgrade_all") as database:
        config = _write(tmp_path / "a.yaml", {"backend": {"database": database}})
        upgraded = await _invoke(["db", "upgrade", "--all", "--config", str(config)])
        assert upgraded.exit_code == 0, upgraded.output
        registered = sorted(registered_migrations())
        assert {"catalog", "search"} <= set(registered)
        assert upgraded.output.splitlines() == [
            f"{plugin_id}: upgrade to head done" for plugin_id in registered
        ]
        created = await _databases(database["connection"], database["prefix"])
        assert created == sorted(database["prefix"] + plugin_id for plugin_id in registered)
        for plugin_id in registered:
            history = await _invoke(
                ["db", "history", "--plugin", plugin_id, "--config", str(config)]
            )
            assert history.exit_code == 0, history.output
            assert history.output
            assert all(line.endswith(" applied") for line in history.output.splitlines())
        both = await _invoke(
            ["db", "upgrade", "--all", "--plugin", "catalog", "--config", str(config)]
        )
        neither = await _invoke(["db", "upgrade", "--config", str(config)])
        assert both.exit_code == 2
        assert neither.exit_code == 2
        assert "either --plugin ID or --all" in neither.output


def test_db_history_creates_no_sqlite_file(tmp_path: Path) -> None:
    config = _write(
        tmp_path / "a.yaml",
        {"backend": {"database": {"client": "better-sqlite3",
                                  "connection": {"directory": str(tmp_path)}}}},
    )  # fmt: skip
    common = [
        "--plugin",
        "catalog",
        "--config",
        str(config),
        "--migrations",
        str(SAMPLE_MIGRATIONS),
    ]
    result = CliRunner().invoke(main, ["db", "history", *common])
    assert result.output.splitlines() == ["0001 pending", "0002 pending"], result.output
    assert not (tmp_path / "catalog.sqlite").exists()


async def _databases(connection: dict[str, Any], prefix: str) -> list[str]:
    admin = await asyncpg.connect(database="postgres", **connection)
    try:
        rows = await admin.fetch(
            "SELECT datname FROM pg_database WHERE datname LIKE $1", prefix + "%"
        )
        return sorted(row["datname"] for row in rows)
    finally:
        await admin.close()


@pytest.mark.parametrize("mode", ["database", "schema"])
async def test_db_history_never_creates_a_postgres_database_or_schema(
    tmp_path: Path, mode: str
) -> None:
    async with postgres_database_config("history") as database:
        prefix = database["prefix"]
        settings = {**database, "pluginDivisionMode": mode}
        if mode == "schema":
            # schema mode works inside one database: give it one of its own to look into
            admin = await asyncpg.connect(database="postgres", **database["connection"])
            await admin.execute(f'CREATE DATABASE "{prefix}schemas"')
            await admin.close()
            settings["connection"] = {**database["connection"], "database": f"{prefix}schemas"}
        config = _write(tmp_path / "a.yaml", {"backend": {"database": settings}})
        before = await _databases(database["connection"], prefix)
        common = ["--plugin", "catalog", "--config", str(config), "--migrations",
                  str(SAMPLE_MIGRATIONS)]  # fmt: skip
        history = await _invoke(["db", "history", *common])
        assert history.exit_code == 0, history.output
        assert history.output.splitlines() == ["0001 pending", "0002 pending"]
        assert await _databases(database["connection"], prefix) == before
        if mode == "schema":
            conn = await asyncpg.connect(database=f"{prefix}schemas", **database["connection"])
            try:
                schemas = await conn.fetch(
                    "SELECT 1 FROM information_schema.schemata WHERE schema_name = 'catalog'"
                )
            finally:
                await conn.close()
            assert schemas == []
        # once upgraded, history reads what is applied
        upgraded = await _invoke(["db", "upgrade", *common])
        assert upgraded.exit_code == 0, upgraded.output
        after = await _invoke(["db", "history", *common])
        assert after.output.splitlines() == ["0001 applied", "0002 applied"]
