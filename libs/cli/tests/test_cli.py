"""The backstage-py command: config file lists, errors, help, and a graceful SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
from backstage_backend_test_utils import SAMPLE_MIGRATIONS
from backstage_cli import main, unit_config_paths
from backstage_cli.units import Unit
from click.testing import CliRunner


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_ready(base: str, process: subprocess.Popen[bytes], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the process exited early: {process.communicate()}")
        try:
            if httpx.get(f"{base}/.backstage/health/v1/readiness").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.02)
    raise AssertionError("the backend never became ready")


def test_help_explains_every_level() -> None:
    runner = CliRunner()
    top = runner.invoke(main, ["--help"])
    start = runner.invoke(main, ["start", "--help"])
    assert top.exit_code == 0
    assert "start" in top.output
    assert "units" in top.output
    assert start.exit_code == 0
    assert "--unit" in start.output
    assert "--config" in start.output
    assert "SIGTERM" in start.output


def test_default_config_list_is_root_file_unit_overlay_then_local(
    tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "app-config.yaml").write_text("a: 1\n")
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text("a: 2\n")
    nested = tmp_path / "some" / "folder"
    nested.mkdir(parents=True)
    monkeypatch.chdir(nested)
    monkeypatch.delenv("BACKSTAGE_ENV", raising=False)
    unit = Unit(name="t", features=list, config_overlay=overlay)
    assert unit_config_paths(unit, ()) == [tmp_path / "app-config.yaml", overlay]
    (tmp_path / "app-config.local.yaml").write_text("a: 3\n")
    assert unit_config_paths(unit, ())[-1] == tmp_path / "app-config.local.yaml"
    given = [tmp_path / "only.yaml"]
    assert unit_config_paths(unit, given) == given


def test_unknown_unit_and_missing_config_fail_clearly(tmp_path: Path) -> None:
    runner = CliRunner()
    unknown = runner.invoke(main, ["start", "--unit", "nope", "--config", str(tmp_path / "x.yaml")])
    assert unknown.exit_code != 0
    assert "Unknown unit 'nope', known units: all" in unknown.output


def test_malformed_yaml_fails_with_file_and_line(tmp_path: Path) -> None:
    config = tmp_path / "broken.yaml"
    config.write_text("backend:\n  baseUrl: http://x\n  listen: [unclosed\n")
    result = subprocess.run(
        [sys.executable, "-m", "backstage_cli", "start", "--config", str(config)],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "broken.yaml" in result.stderr.decode()
    assert "line" in result.stderr.decode()


SERVER = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from litestar import get
    from backstage_cli import run_unit
    from backstage_cli.units import Unit
    from backstage_backend_plugin_api import core_services as core, create_backend_plugin

    @get("/slow")
    async def slow() -> dict[str, str]:
        await asyncio.sleep(1.0)
        return {"finished": "yes"}

    async def init(router: core.HttpRouter, lifecycle: core.Lifecycle) -> None:
        router.use(slow)
        router.add_auth_policy(path="/", allow="unauthenticated")
        lifecycle.add_shutdown_hook(lambda: print("hook registered first", flush=True))
        lifecycle.add_shutdown_hook(lambda: print("hook registered second", flush=True))

    plugin = create_backend_plugin(plugin_id="demo", register=lambda env: env.register_init(init))
    sys.exit(run_unit(Unit(name="test", features=lambda: [plugin]), [Path(sys.argv[1])]))
    """
)


def test_sigterm_drains_in_flight_requests_runs_hooks_and_exits_zero(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = tmp_path / "app-config.yaml"
    config.write_text(
        f"backend:\n  baseUrl: {base}\n  listen: {{host: 127.0.0.1, port: {port}}}\n"
        "  logging: {level: warn, format: json}\n"
    )
    script = tmp_path / "server.py"
    script.write_text(SERVER)
    process = subprocess.Popen(
        [sys.executable, str(script), str(config)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        wait_ready(base, process)
        with httpx.Client(base_url=base, timeout=10) as client:
            import threading

            result: dict[str, httpx.Response] = {}
            slow = threading.Thread(target=lambda: result.update(slow=client.get("/api/demo/slow")))
            slow.start()
            time.sleep(0.3)
            process.send_signal(signal.SIGTERM)
            time.sleep(0.2)
            readiness = httpx.get(f"{base}/.backstage/health/v1/readiness")
            slow.join(timeout=10)
        stdout, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert readiness.status_code == 503
    assert result["slow"].status_code == 200
    assert result["slow"].json() == {"finished": "yes"}
    assert process.returncode == 0, stderr.decode()
    lines = stdout.decode().splitlines()
    assert lines.index("hook registered second") < lines.index("hook registered first")


def test_the_console_script_is_installed() -> None:
    scripts = Path(sys.executable).parent
    assert (scripts / "backstage-py").exists() or os.name == "nt"


def test_db_commands_upgrade_list_and_downgrade_one_plugin(tmp_path: Path) -> None:
    migrations = SAMPLE_MIGRATIONS
    config = tmp_path / "app-config.yaml"
    config.write_text(
        "backend:\n  baseUrl: http://localhost\n"
        f"  database:\n    client: better-sqlite3\n    connection:\n      directory: {tmp_path}\n"
    )
    common = ["--plugin", "catalog", "--config", str(config), "--migrations", str(migrations)]
    runner = CliRunner()
    before = runner.invoke(main, ["db", "history", *common])
    upgraded = runner.invoke(main, ["db", "upgrade", *common])
    after = runner.invoke(main, ["db", "history", *common])
    reverted = runner.invoke(main, ["db", "downgrade", *common, "--to", "0001"])
    final = runner.invoke(main, ["db", "history", *common])
    assert before.output.splitlines() == ["0001 pending", "0002 pending"], before.output
    assert upgraded.exit_code == 0, upgraded.output
    assert after.output.splitlines() == ["0001 applied", "0002 applied"]
    assert reverted.exit_code == 0, reverted.output
    assert final.output.splitlines() == ["0001 applied", "0002 pending"]
    assert (tmp_path / "catalog.sqlite").exists()
    unknown = runner.invoke(main, ["db", "history", "--plugin", "nothing", "--config", str(config)])
    assert unknown.exit_code != 0
    assert "registers no migrations" in unknown.output


def test_backstage_py_start_sets_up_telemetry_from_the_environment(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = tmp_path / "app-config.yaml"
    config.write_text(
        f"backend:\n  baseUrl: {base}\n  listen: {{host: 127.0.0.1, port: {port}}}\n"
        "  logging: {level: warn, format: json}\n"
    )
    env = {**os.environ, "OTEL_TRACES_EXPORTER": "console", "OTEL_BSP_SCHEDULE_DELAY": "50"}
    command = [str(Path(sys.executable).parent / "backstage-py"), "start", "--unit", "all"]
    process = subprocess.Popen(
        [*command, "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=tmp_path,
    )
    try:
        wait_ready(base, process)
        assert httpx.get(f"{base}/api/catalog/entities").status_code == 401
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr.decode()
    output = stdout.decode()
    assert '"service.name": "all"' in output
    assert '"backstage.unit": "all"' in output
    assert '"url.path": "/api/catalog/entities"' in output
    assert '"backstage.plugin_id": "catalog"' in output
